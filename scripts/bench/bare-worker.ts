// The end-to-end baseline's worker: a bare BullMQ Worker that POSTs each job's data to the sink with got —
// the least a BullMQ pipeline can do for this product (no detection, routing, signing, logs or metrics).
import { Worker } from 'bullmq';
import got from 'got';
import { computeEmailId } from '@render-signal/contracts';
import { silentLogger } from '@render-signal/observability';
import { createRedisConnection } from '@render-signal/queue';

const [redisUrl, prefix, sinkUrl] = process.argv.slice(2) as [string, string, string];
const connection = createRedisConnection({ url: redisUrl, profile: 'worker', name: 'bench-bare-worker', logger: silentLogger });
const worker = new Worker(
  'email',
  async (job) => {
    const email = job.data as { subject: string; sender: string; date: string };
    await got.post(sinkUrl, { json: { ...email, email_id: computeEmailId(email) }, timeout: { request: 30_000 }, retry: { limit: 0 } });
  },
  // Same job retention and concurrency as ours, so Redis does the same bookkeeping.
  { connection, prefix, concurrency: 50, removeOnComplete: { count: 5_000 }, removeOnFail: { count: 50_000 } },
);
worker.on('error', () => {});
await worker.waitUntilReady();
console.log(JSON.stringify({ event: 'worker.started' }));
process.on('SIGTERM', () => void worker.close().then(() => process.exit(0)));
