// Redis memory per delivered email, by key family: N emails through the built API and worker (one target, the
// fast path, the defaults), then MEMORY USAGE of every key of the run's prefix (SAMPLES 0: whole values), grouped.
// Fixed costs (config documents, metrics, queue metadata) are listed apart; keys capped by a retention setting
// (the webhook log, the events streams) are per email only below their cap. `--bytes-emails=N` (default 10 000, as the issue measured).
// Then the CPU of the journey line codec (packages/journeys/src/line.ts) on the run's own stored lines: what the worker pays per
// email to deflate its line, and the API per journey read to inflate it.
// Runs alone: npm run bench -- --only=redis-bytes
import { Agent } from 'node:http';
import { Redis } from 'ioredis';
import { decodeLine, encodeLine } from '@render-signal/journeys';
import { emailBody, pipelineEnv, postJson, startApi, startSink, startWorker } from './harness';

/** A key family: its name and whether it grows with the emails (false: a fixed cost of the deployment). */
interface Family {
  name: string;
  perEmail: boolean;
}

/** The family of a key under `prefix` (the queue's keys follow BullMQ's `<prefix>:<queue>:<suffix>`). */
export function familyOf(prefix: string, key: string): Family {
  const rest = key.slice(prefix.length + 1);
  const [head, second, third] = rest.split(':');
  if (head === 'journey') return { name: rest.endsWith(':s') ? 'journey summary' : 'journey', perEmail: true };
  if (head === 'journeys') return { name: 'journey index', perEmail: true };
  if (head === 'stats') return { name: 'hourly figures', perEmail: false };
  if (head === 'webhook_logs') return { name: 'webhook log', perEmail: true };
  if (head === 'email' || head === 'delivery' || head === 'offload' || head === 'gmail') {
    if (second === 'de') return { name: `${head} dedup marker`, perEmail: true };
    if (second === 'events') return { name: `${head} events stream`, perEmail: true };
    if (second === 'completed' || second === 'failed' || second === 'wait' || second === 'prioritized' || second === 'delayed')
      return { name: `${head} queue indexes`, perEmail: true };
    if (third === 'logs') return { name: `${head} job logs`, perEmail: true };
    if (second !== undefined && rest.split(':').length === 2 && !QUEUE_META.has(second)) return { name: `${head} job`, perEmail: true };
    return { name: `${head} queue metadata`, perEmail: false };
  }
  return { name: `other (${head})`, perEmail: false };
}

const QUEUE_META = new Set(['meta', 'id', 'stalled-check', 'marker', 'pc', 'active', 'stalled', 'paused', 'limiter', 'metrics']);

export async function benchRedisBytes(
  redisUrl: string,
  options: { emails: number },
): Promise<{ perEmail: number; families: Map<string, number> }> {
  console.log(`\n## Redis memory per delivered email (${options.emails} emails, one target, defaults; MEMORY USAGE by key family)`);
  const prefix = `bench-bytes-${Date.now()}`;
  let delivered = 0;
  const sink = await startSink(0, () => {
    delivered += 1;
  });
  const env = pipelineEnv(redisUrl, prefix, sink.url, { LOG_LEVEL: 'warn' });
  const api = await startApi(env);
  const worker = await startWorker(env);
  const agent = new Agent({ keepAlive: true, maxSockets: 16 });
  const redis = new Redis(redisUrl);
  try {
    let pending: Array<Promise<unknown>> = [];
    for (let i = 1; i <= options.emails; i++) {
      pending.push(postJson(agent, api.port, emailBody()).catch(() => undefined));
      if (pending.length >= 32) {
        await Promise.all(pending);
        pending = [];
      }
    }
    await Promise.all(pending);
    const deadline = Date.now() + 120_000;
    while (delivered < options.emails && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    // Journey events are held up to 1 s and batched; the webhook log is written 10 ms after the attempt.
    await new Promise((r) => setTimeout(r, 2_500));

    const families = new Map<string, { bytes: number; keys: number; perEmail: boolean }>();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1_000);
      cursor = next;
      const sizes = await Promise.all(keys.map((k) => redis.memory('USAGE', k, 'SAMPLES', 0) as Promise<number | null>));
      keys.forEach((key, i) => {
        const family = familyOf(prefix, key);
        const entry = families.get(family.name) ?? { bytes: 0, keys: 0, perEmail: family.perEmail };
        entry.bytes += sizes[i] ?? 0;
        entry.keys += 1;
        families.set(family.name, entry);
      });
    } while (cursor !== '0');

    const rows = [...families.entries()].sort((a, b) => b[1].bytes - a[1].bytes);
    let total = 0;
    const perEmail = new Map<string, number>();
    console.log(`delivered ${delivered}/${options.emails}`);
    console.log(`${'family'.padEnd(26)} ${'keys'.padStart(7)} ${'bytes'.padStart(11)} ${'B/email'.padStart(8)}`);
    for (const [name, entry] of rows) {
      const share = entry.bytes / options.emails;
      if (entry.perEmail) {
        total += share;
        perEmail.set(name, share);
      }
      console.log(
        `${name.padEnd(26)} ${String(entry.keys).padStart(7)} ${String(entry.bytes).padStart(11)} ${entry.perEmail ? share.toFixed(0).padStart(8) : '   fixed'}`,
      );
    }
    console.log(`${'per delivered email'.padEnd(26)} ${''.padStart(7)} ${''.padStart(11)} ${total.toFixed(0).padStart(8)}`);
    await lineCodecCost(redis, prefix);
    return { perEmail: total, families: perEmail };
  } finally {
    agent.destroy();
    worker.kill('SIGTERM');
    api.child.kill('SIGTERM');
    sink.server.close();
    sink.server.closeAllConnections();
    // The bench's redis-server is its own and thrown away; a shared one keeps nothing of this run.
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1_000);
      cursor = next;
      if (keys.length > 0) await redis.unlink(...keys);
    } while (cursor !== '0');
    redis.disconnect();
  }
}

/** CPU per journey line to deflate (worker, once per email and batch) and inflate (API, per read): up to 1 000 stored lines. */
async function lineCodecCost(redis: Redis, prefix: string): Promise<void> {
  const ids = await redis.zrange(`${prefix}:journeys`, 0, 999);
  const stored = (await Promise.all(ids.map((id) => redis.lrangeBuffer(`${prefix}:journey:${id}`, 0, -1)))).flat();
  if (stored.length === 0) return;
  const texts = stored.map(decodeLine);
  const cpu = (run: () => void, rounds: number) => {
    const start = process.cpuUsage();
    for (let i = 0; i < rounds; i++) run();
    const used = process.cpuUsage(start);
    return (used.user + used.system) / (rounds * stored.length);
  };
  const rounds = 5;
  cpu(() => texts.forEach(encodeLine), 1); // warm-up
  const deflate = cpu(() => texts.forEach(encodeLine), rounds);
  const inflate = cpu(() => stored.forEach(decodeLine), rounds);
  const json = texts.reduce((sum, t) => sum + Buffer.byteLength(t), 0) / texts.length;
  const kept = stored.reduce((sum, b) => sum + b.length, 0) / stored.length;
  console.log(
    `journey lines: ${stored.length} sampled, ${json.toFixed(0)} B of JSON → ${kept.toFixed(0)} B stored; ` +
      `CPU per line: deflate ${deflate.toFixed(1)} µs (worker), inflate ${inflate.toFixed(1)} µs (read)`,
  );
}
