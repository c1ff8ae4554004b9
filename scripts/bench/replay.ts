// Bulk replay at scale (issue 26): N kept dead letters (default 100 000, --replay-dead-letters=N), their journeys
// written by the real recorder and their delivery jobs kept (delayed far away, so nothing sends them), then:
// the dry run's latency (previewReplay, the API's code, in this process; 5 runs) and the worker's RSS while one
// worker process (the built bundle) replays all of them at --replay-rate (default 2000/s) to a loopback sink.
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { replayRequestSchema, targetIdOf } from '@render-signal/contracts';
import {
  attemptEvent,
  createJourneyRecorder,
  dispatchedEvent,
  plannedEvent,
  previewReplay,
  receivedEvent,
  startReplay,
} from '@render-signal/journeys';
import { createProducer, createReplayStore, replayQueue } from '@render-signal/queue';
import { percentile, pipelineEnv, rssMb, startSink, startWorker } from './harness';

const SEED_CHUNK = 1_000;

export async function benchReplay(
  redisUrl: string,
  options: { deadLetters: number; rate: number },
): Promise<{ dryRunP50: number; rssGrowthMb: number }> {
  const n = options.deadLetters;
  console.log(`\n## Bulk replay: ${n} kept dead letters (dry run latency, worker RSS while replaying all at ${options.rate}/s)`);
  const prefix = `bench-replay-${Date.now()}`;
  let delivered = 0;
  const sink = await startSink(0, () => {
    delivered += 1;
  });
  const redis = new Redis(redisUrl);
  const recorder = createJourneyRecorder({ redis, prefix, maxAgeDays: 7, maxEntries: n + 10 });
  const deliveries = new Queue('delivery', { connection: redis, prefix });
  const target = {
    url: sink.url,
    origin: 'default',
    mode: 'json' as const,
    fallback_on_415: true,
    tls_verify: true,
    require_success_flag: false,
  };
  const since = Date.now() - 1;

  const seedStart = performance.now();
  for (let start = 0; start < n; start += SEED_CHUNK) {
    const now = Date.now();
    const ids = Array.from({ length: Math.min(SEED_CHUNK, n - start) }, (_, k) => start + k);
    // The kept delivery jobs (payload, target, webhook-id), parked a year away so no worker sends them.
    await deliveries.addBulk(
      ids.map((i) => {
        const webhookId = `msg_${i.toString(16).padStart(32, '0')}`;
        return {
          name: 'deliver',
          data: {
            email_id: `${prefix}-${i}`,
            accepted_at: now,
            webhook_id: webhookId,
            target,
            payload: { email_id: `${prefix}-${i}`, subject: `Lot ${i}`, body_excerpt: 'x'.repeat(400) },
            subject: `Lot ${i}`,
            kind: 'email',
          },
          opts: { jobId: webhookId, delay: 365 * 86_400_000 },
        };
      }),
    );
    for (const i of ids) {
      const emailId = `${prefix}-${i}`;
      const webhookId = `msg_${i.toString(16).padStart(32, '0')}`;
      recorder.record(
        emailId,
        receivedEvent({ jobId: `${emailId}.x`, acceptedAt: now, source: 'apps_script', subject: `Lot ${i}`, sender: 'a@example.org', now }),
      );
      recorder.record(
        emailId,
        plannedEvent({
          detection: { detector: null },
          windowVerdict: undefined,
          matches: [],
          stoppedBy: null,
          links: [],
          targets: [{ webhookId, url: sink.url, origin: 'default', priority: 0 }],
          offloading: 0,
          now,
        }),
      );
      recorder.record(emailId, dispatchedEvent({ deliveries: [{ webhookId, jobId: webhookId, target, priority: 0 }], now }));
      recorder.record(
        emailId,
        attemptEvent({ webhookId, jobId: webhookId, attempt: 2, maxAttempts: 2, outcome: 'failed', status: 500, durationMs: 3, now }),
      );
    }
    await recorder.flush();
  }
  console.log(`seeded ${n} journeys + kept delivery jobs in ${((performance.now() - seedStart) / 1000).toFixed(0)} s`);

  const request = replayRequestSchema.parse({ filter: { status: 'dead_lettered', target: sink.url }, rate_per_s: options.rate });
  const filter = { status: 'dead_lettered' as const, target_id: targetIdOf(sink.url), since, words: [] };
  const context = { redis, prefix, retention: { journeyMaxAgeDays: 7, journeyMaxEntries: n + 10 } };
  const times: number[] = [];
  let count = 0;
  for (let run = 0; run < 5; run++) {
    const t0 = performance.now();
    count = (await previewReplay(context, filter)).count;
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  console.log(
    `dry run (status + target + since over ${n} journeys): count ${count}; ${times.map((t) => t.toFixed(0)).join(', ')} ms ` +
      `(p50 ${percentile(times, 50).toFixed(0)} ms, max ${times[times.length - 1]!.toFixed(0)} ms)`,
  );

  const env = pipelineEnv(redisUrl, prefix, sink.url, {
    LOG_LEVEL: 'warn',
    JOURNEY_MAX_ENTRIES: String(n + 10),
    REPLAY_MAX_RATE_PER_S: String(options.rate),
  });
  const worker = await startWorker(env);
  await new Promise((r) => setTimeout(r, 2_000));
  const baseline = rssMb(worker.pid);
  const store = createReplayStore({ redis, prefix });
  const producer = createProducer(replayQueue, { connection: redis, prefix });
  const started = performance.now();
  const record = await startReplay(
    { ...context, store, enqueueRun: async (id) => void (await producer.add('run', { replay_id: id }, { jobId: `replay.${id}` })) },
    { request, filter, who: 'bench', now: Date.now() },
  );
  const startMs = performance.now() - started;
  let peak = baseline;
  let warm: number | null = null;
  const rows: string[] = [];
  let state = 'running';
  let lastRow = 0;
  const deadline = Date.now() + (n / options.rate) * 1000 * 4 + 120_000;
  while (state === 'running' && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 1_000));
    const rss = rssMb(worker.pid);
    peak = Math.max(peak, rss);
    const current = await store.get(record.id);
    // Warmed up (heap sized for the load) once a tenth is sent: growth past this point is what grows with N.
    if (warm === null && (current?.sent ?? 0) >= record.total / 10) warm = rss;
    state = current?.state ?? 'gone';
    if (Date.now() - lastRow > 10_000) {
      lastRow = Date.now();
      rows.push(
        `  ${((performance.now() - started) / 1000).toFixed(0).padStart(4)} s: sent ${current?.sent}, delivered ${current?.delivered}, worker RSS ${rss.toFixed(0)} MB`,
      );
    }
  }
  const done = await store.get(record.id);
  for (const row of rows) console.log(row);
  const seconds = (performance.now() - started) / 1000;
  console.log(
    `replay of ${record.total}: start (selection snapshot) ${startMs.toFixed(0)} ms; ${state} in ${seconds.toFixed(0)} s ` +
      `(${(record.total / seconds).toFixed(0)}/s), delivered ${done?.delivered} (sink ${delivered}); worker RSS ${baseline.toFixed(0)} → peak ` +
      `${peak.toFixed(0)} MB (growth ${(peak - baseline).toFixed(0)} MB; ${warm === null ? 'n/a' : (peak - warm).toFixed(0)} MB after the first tenth)`,
  );
  worker.kill('SIGTERM');
  await producer.close();
  await deliveries.close();
  redis.disconnect();
  sink.server.close();
  sink.server.closeAllConnections();
  return { dryRunP50: percentile(times, 50), rssGrowthMb: peak - baseline };
}
