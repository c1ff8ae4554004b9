import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { freePort, removeRedisDir, startRedisServer, type OwnRedis } from './redis-server';

const run = promisify(execFile);

export interface OwnCluster {
  /** The masters, in creation order (slots 0..5460, 5461..10922, 10923..16383 with three). */
  nodes: OwnRedis[];
  /** REDIS_CLUSTER_NODES for the processes under test. */
  seeds: string;
  /** The master that serves `key`'s slot right now (asked of the cluster, not computed). */
  masterFor(key: string): Promise<OwnRedis>;
  close(): Promise<void>;
}

async function clusterInfo(port: number): Promise<string> {
  const redis = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on('error', () => {});
  try {
    await redis.connect();
    return (await redis.call('CLUSTER', 'INFO')) as string;
  } catch {
    return '';
  } finally {
    redis.disconnect();
  }
}

/** Waits until every node reports `cluster_state:ok` (all slots served). */
export async function waitClusterOk(nodes: readonly OwnRedis[], timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const infos = await Promise.all(nodes.map((n) => clusterInfo(n.port)));
    if (infos.every((i) => i.includes('cluster_state:ok'))) return;
    if (Date.now() > deadline) throw new Error(`cluster not ok after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * A local Redis Cluster of `masters` masters and no replicas (`redis-cli --cluster create … --cluster-replicas 0`),
 * each a private redis-server on free ports (client port and cluster bus port chosen apart: port + 10000 may not
 * be free), with AOF fsynced on every write when `aof` is set. A restarted node reads its nodes.conf and
 * AOF back from its directory and serves its slots again.
 */
export async function startRedisCluster(options: { masters?: number; aof?: boolean } = {}): Promise<OwnCluster> {
  const count = options.masters ?? 3;
  const nodes: OwnRedis[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const busPort = await freePort();
      nodes.push(
        await startRedisServer({
          ...(options.aof !== undefined ? { aof: options.aof } : {}),
          args: [
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            'nodes.conf',
            '--cluster-node-timeout',
            '2000',
            '--cluster-port',
            String(busPort),
          ],
        }),
      );
    }
    await run(
      'redis-cli',
      ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '0', '--cluster-yes'],
      {
        timeout: 30_000,
      },
    );
    await waitClusterOk(nodes);
  } catch (error) {
    await Promise.all(nodes.map((n) => removeRedisDir(n)));
    throw error;
  }
  return {
    nodes,
    seeds: nodes.map((n) => `127.0.0.1:${n.port}`).join(','),
    async masterFor(key) {
      const probe = new Redis({ host: '127.0.0.1', port: nodes[0]!.port, maxRetriesPerRequest: 1 });
      try {
        const slot = (await probe.call('CLUSTER', 'KEYSLOT', key)) as number;
        const shards = (await probe.call('CLUSTER', 'SLOTS')) as Array<[number, number, [string, number, ...unknown[]]]>;
        const owner = shards.find(([from, to]) => slot >= from && slot <= to);
        const node = nodes.find((n) => n.port === owner?.[2][1]);
        if (!node) throw new Error(`no master serves slot ${slot}`);
        return node;
      } finally {
        probe.disconnect();
      }
    },
    async close() {
      await Promise.all(nodes.map((n) => removeRedisDir(n)));
    },
  };
}

/** True when this redis-server can run in cluster mode (the cluster tests skip, saying so, otherwise). */
export async function clusterModeAvailable(): Promise<string | undefined> {
  try {
    const cluster = await startRedisCluster({ masters: 3 });
    await cluster.close();
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}
