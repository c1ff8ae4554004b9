// What recording an email's journey costs: client CPU (building the events + the batched script call),
// Redis CPU (the script) and Redis memory per journey, for the events a delivered single-target email
// records (received, planned, dispatched in the email job's turn; one attempt in the delivery's turn).
// Runs against the bench's own redis-server; `--journey-emails=N` (default 20 000), `--journey-batch=N`
// (emails finishing in one event-loop turn, default 50).
import { Redis } from 'ioredis';
import { attemptEvent, createJourneyRecorder, dispatchedEvent, plannedEvent, receivedEvent } from '@render-signal/journeys';
import { redisCpuSeconds } from './harness';

const TARGET = {
  url: 'https://hook.eu2.make.com/abcdefghijklmnopqrstuvwxyz123456',
  origin: 'default',
  mode: 'json' as const,
  fallback_on_415: true,
  tls_verify: true,
  require_success_flag: false,
  timeout_ms: 30_000,
};

function usedMemory(info: string): number {
  return Number(/^used_memory:(\d+)/m.exec(info)?.[1] ?? 0);
}

export async function benchJourneys(redisUrl: string, options: { emails: number; batch: number }): Promise<void> {
  const redis = new Redis(redisUrl);
  const prefix = `bench-journeys-${Date.now()}`;
  const recorder = createJourneyRecorder({ redis, prefix, maxAgeDays: 7, maxEntries: options.emails + 1 });
  const emailEvents = (i: number) => {
    const emailId = `${prefix}-${i.toString(16).padStart(12, '0')}`;
    const now = Date.now();
    const subject = `Média Solution - Missions Recadrage - Lot ${i}`;
    const webhookId = `msg_${i.toString(16).padStart(32, '0')}`;
    return {
      emailId,
      first: [
        receivedEvent({
          jobId: `${emailId}.x`,
          acceptedAt: now,
          source: 'gmail_push',
          subject,
          sender: 'Studio <studio@example.org>',
          now,
        }),
        plannedEvent({
          detection: { detector: 'recadrage', delivery_time: '14h30' },
          windowVerdict: 'inside_window',
          matches: [],
          stoppedBy: null,
          links: [{ provider: 'dropbox', raw_url: 'https://www.dropbox.com/scl/fo/abc123/file.zip?dl=0' }],
          targets: [{ webhookId, url: TARGET.url, origin: 'default', priority: 5 }],
          offloading: 0,
          now,
        }),
        dispatchedEvent({
          deliveries: [{ webhookId, jobId: webhookId, target: TARGET, priority: 5 }],
          now,
        }),
      ],
      second: attemptEvent({
        webhookId,
        jobId: webhookId,
        attempt: 1,
        maxAttempts: 8,
        outcome: 'delivered',
        status: 200,
        durationMs: 12,
        responseExcerpt: '{"success":true}',
        endToEndMs: 40,
        now,
      }),
    };
  };

  // Warm-up (JIT, script cache), not counted.
  for (let i = 0; i < 200; i++) {
    const e = emailEvents(i);
    for (const event of e.first) recorder.record(e.emailId, event);
    recorder.record(e.emailId, e.second);
  }
  await recorder.flush();

  // Building the events alone (the part every processor pays even if Redis were free).
  const buildStart = process.cpuUsage();
  for (let i = 0; i < options.emails; i++) emailEvents(i);
  const build = process.cpuUsage(buildStart);

  const infoBefore = `${await redis.info('cpu')}\n${await redis.info('memory')}`;
  const cpuStart = process.cpuUsage();
  const wallStart = performance.now();
  for (let start = 0; start < options.emails; start += options.batch) {
    const turn = Array.from({ length: Math.min(options.batch, options.emails - start) }, (_, k) => emailEvents(start + k));
    // The email jobs' turn, then the deliveries' turn: two scripts per batch of emails.
    for (const e of turn) for (const event of e.first) recorder.record(e.emailId, event);
    await recorder.flush();
    for (const e of turn) recorder.record(e.emailId, e.second);
    await recorder.flush();
  }
  const wallMs = performance.now() - wallStart;
  const cpu = process.cpuUsage(cpuStart);
  const infoAfter = `${await redis.info('cpu')}\n${await redis.info('memory')}`;

  const perEmailUs = (micros: number) => (micros / options.emails).toFixed(1);
  const redisUs = ((redisCpuSeconds(infoAfter) - redisCpuSeconds(infoBefore)) * 1e6) / options.emails;
  const bytes = (usedMemory(infoAfter) - usedMemory(infoBefore)) / options.emails;
  console.log(`\n## Journey recording (${options.emails} single-target delivered emails, ${options.batch} per event-loop turn)`);
  console.log(
    `client CPU per email: ${perEmailUs(cpu.user + cpu.system)} µs (of which building the 4 events ${perEmailUs(build.user + build.system)} µs)   ` +
      `redis CPU per email: ${redisUs.toFixed(1)} µs   redis memory per journey: ${Math.round(bytes)} B   ` +
      `wall: ${((options.emails / wallMs) * 1000).toFixed(0)} emails/s through one connection`,
  );
  // Leave the bench's Redis as found.
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) await redis.unlink(...keys);
  } while (cursor !== '0');
  redis.disconnect();
}
