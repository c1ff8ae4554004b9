// Redis Cluster: how queue work spreads over masters. A local 3-master cluster (redis-server --cluster-enabled),
// then the same total of jobs (added in bulk, then drained by bare BullMQ workers, one process per queue) on
//  - one queue prefix `{rs}`: every key in one slot, so one master does all the Redis work;
//  - three prefixes whose hash tags land on three different masters (three deployments, or senders split).
// Prints jobs/s and each master's Redis CPU (INFO commandstats usec), the figure that decides when a slot is full.
// Usage: node --import tsx scripts/bench/cluster.ts [jobs=30000]
import { Cluster, Redis } from 'ioredis';
import { Queue } from 'bullmq';
import { startRedisCluster } from '../../test/helpers/redis-cluster';
import { spawnNode, killAll } from './harness';

const TOTAL = Number(process.argv[2] ?? 30_000);

async function usecByMaster(ports: number[]): Promise<number[]> {
  return Promise.all(
    ports.map(async (port) => {
      const redis = new Redis({ port, host: '127.0.0.1' });
      const info = await redis.info('commandstats');
      redis.disconnect();
      let usec = 0;
      for (const match of info.matchAll(/usec=(\d+)/g)) usec += Number(match[1]);
      return usec;
    }),
  );
}

async function run(cluster: Awaited<ReturnType<typeof startRedisCluster>>, prefixes: string[]): Promise<void> {
  const ports = cluster.nodes.map((n) => n.port);
  const seeds = ports.map((port) => ({ host: '127.0.0.1', port }));
  const connection = new Cluster(seeds, { redisOptions: { maxRetriesPerRequest: null } });
  const perQueue = Math.floor(TOTAL / prefixes.length);
  for (const prefix of prefixes) {
    const queue = new Queue('bench', { connection, prefix });
    for (let i = 0; i < perQueue; i += 1_000)
      await queue.addBulk(Array.from({ length: Math.min(1_000, perQueue - i) }, (_, k) => ({ name: 'job', data: { n: i + k } })));
    await queue.close();
  }
  const before = await usecByMaster(ports);
  const started = performance.now();
  const workers = prefixes.map((prefix) => spawnNode('scripts/bench/cluster-worker.ts', [cluster.seeds, prefix, String(perQueue)]));
  await Promise.all(workers.map((w) => new Promise((resolve) => w.once('exit', resolve))));
  const seconds = (performance.now() - started) / 1000;
  const after = await usecByMaster(ports);
  const masters = await Promise.all(prefixes.map(async (p) => ports.indexOf((await cluster.masterFor(p)).port)));
  const cpu = after.map((a, i) => (a - before[i]!) / 1000);
  connection.disconnect();
  console.log(
    `${prefixes.length} queue prefix(es) ${prefixes.join(' ')} on master(s) ${masters.map((m) => m + 1).join(', ')}: ` +
      `${perQueue * prefixes.length} jobs in ${seconds.toFixed(1)} s = ${((perQueue * prefixes.length) / seconds).toFixed(0)} jobs/s; ` +
      `Redis CPU per master (ms): ${cpu.map((c) => c.toFixed(0)).join(' / ')}; busiest master ${(Math.max(...cpu) / (perQueue * prefixes.length)).toFixed(3)} ms per job`,
  );
}

const cluster = await startRedisCluster({ masters: 3 });
try {
  console.log(`# Redis Cluster spread — 3 masters on ports ${cluster.nodes.map((n) => n.port).join(', ')}, ${TOTAL} jobs per run`);
  // Hash tags whose slots are on three different masters (slots 0–5460, 5461–10922, 10923–16383).
  const tags: string[] = [];
  const used = new Set<number>();
  for (let i = 0; tags.length < 3 && i < 1_000; i++) {
    const tag = `{rs${i}}`;
    const master = (await cluster.masterFor(tag)).port;
    if (!used.has(master)) {
      used.add(master);
      tags.push(tag);
    }
  }
  await run(cluster, ['{rs}']);
  await run(cluster, tags);
} finally {
  killAll();
  await cluster.close();
}
process.exit(0);
