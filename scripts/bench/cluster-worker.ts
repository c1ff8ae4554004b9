// One bare BullMQ worker process on a Redis Cluster: drains `count` jobs of queue `bench` under `prefix`, then exits.
import { Worker } from 'bullmq';
import { Cluster } from 'ioredis';

const [seeds, prefix, count] = process.argv.slice(2) as [string, string, string];
const connection = new Cluster(
  seeds.split(',').map((s) => ({ host: s.split(':')[0]!, port: Number(s.split(':')[1]) })),
  { redisOptions: { maxRetriesPerRequest: null } },
);
let done = 0;
const worker = new Worker('bench', async () => undefined, {
  connection,
  prefix,
  concurrency: 50,
  removeOnComplete: { count: 5_000 },
});
worker.on('completed', () => {
  done += 1;
  if (done >= Number(count)) void worker.close().then(() => process.exit(0));
});
