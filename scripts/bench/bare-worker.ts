// The end-to-end baselines' worker: bare BullMQ Workers that POST each email to the sink with Node's fetch (as
// issue 17's baseline does) — the least a BullMQ pipeline can do for this product (no detection, routing,
// signing, logs or metrics).
//  one-stage  one job per email: fetch, POST.
//  two-stage  our design's shape: an `email` job adds one job to a `delivery` queue, whose worker POSTs —
//             what the design's second job costs, with none of our code.
import { Queue, Worker, type Job } from 'bullmq';
import { computeEmailId } from '@render-signal/contracts';
import { silentLogger } from '@render-signal/observability';
import { createRedisConnection } from '@render-signal/queue';

const [redisUrl, prefix, sinkUrl, shape = 'one-stage'] = process.argv.slice(2) as [
  string,
  string,
  string,
  'one-stage' | 'two-stage' | undefined,
];
const connection = createRedisConnection({ url: redisUrl, profile: 'worker', name: 'bench-bare-worker', logger: silentLogger });
// Same job retention and concurrency as ours, so Redis does the same bookkeeping.
const retention = { removeOnComplete: { count: 5_000 }, removeOnFail: { count: 50_000 } };
const post = async (data: unknown) => {
  const res = await fetch(sinkUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(data),
    signal: AbortSignal.timeout(30_000),
  });
  await res.arrayBuffer();
  if (!res.ok) throw new Error(`sink answered ${res.status}`);
};
const withId = (job: Job) => {
  const email = job.data as { subject: string; sender: string; date: string };
  return { ...email, email_id: computeEmailId(email) };
};

const workers: Worker[] = [];
if (shape === 'two-stage') {
  const deliveries = new Queue('delivery', { connection, prefix });
  workers.push(
    new Worker(
      'email',
      async (job) => {
        const data = withId(job);
        await deliveries.add('deliver', data, { jobId: `d-${data.email_id}`, removeOnComplete: { count: 20_000 } });
      },
      { connection, prefix, concurrency: 20, ...retention },
    ),
    new Worker('delivery', async (job) => void (await post(job.data)), { connection, prefix, concurrency: 50, ...retention }),
  );
} else {
  workers.push(new Worker('email', async (job) => void (await post(withId(job))), { connection, prefix, concurrency: 50, ...retention }));
}
for (const worker of workers) {
  worker.on('error', () => {});
  await worker.waitUntilReady();
}
console.log(JSON.stringify({ event: 'worker.started' }));
process.on('SIGTERM', () => void Promise.all(workers.map((w) => w.close())).then(() => process.exit(0)));
