// A server process for the benchmark: `bare` = Express + express.json() + queue.add only (the baseline),
// `ingress` = our real API (createApp). Both use the same producer connection profile. Prints its port.
import express from 'express';
import { createApp } from '../../apps/api/src/app';
import { buildApiDeps } from '../../apps/api/src/deps';
import { apiEnvSchema, loadEnv } from '@render-signal/config';
import { silentLogger } from '@render-signal/observability';
import { createRedisConnection } from '@render-signal/queue';

const [kind, redisUrl, prefix] = process.argv.slice(2) as ['bare' | 'ingress', string, string];
const env = loadEnv(apiEnvSchema, {
  REDIS_URL: redisUrl,
  QUEUE_PREFIX: prefix,
  PROCESS_API_TOKEN: 'bench-token-123',
  SECRET_KEY: 'bench-secret-key-123456',
});
const redis = createRedisConnection({ url: redisUrl, profile: 'producer', name: `bench-${kind}`, logger: silentLogger });
const resources = buildApiDeps(env, silentLogger, redis);
await resources.start();
// The baseline uses the same producer profile and queue, without our checks.
const producer = resources.deps.emailProducer;

let app;
if (kind === 'bare') {
  app = express();
  app.use(express.json({ limit: '10mb' }));
  app.post('/api/ingress/gmail', async (req, res) => {
    const job = await producer.queue.add('process', req.body);
    res.json({ success: true, status: 'queued', id: job.id });
  });
} else {
  app = createApp(resources.deps);
}
const server = app.listen(0, '127.0.0.1', () => {
  const address = server.address();
  console.log(JSON.stringify({ port: typeof address === 'object' && address ? address.port : 0 }));
});
process.on('SIGTERM', () => process.exit(0));
