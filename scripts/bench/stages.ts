// Where an email's end-to-end time went, from the timestamps BullMQ keeps on each job (`timestamp` = added,
// `processedOn` = taken by a worker) and the sink's arrival times. Read after a run, before the prefix is dropped.
import { Redis } from 'ioredis';
import { computeEmailId } from '@render-signal/contracts';
import { percentile } from './harness';

export interface StageSummary {
  /** Emails with every timestamp still in Redis (completed-job retention keeps the newest ones). */
  emails: number;
  /** Stage name → [mean, p50, p99] in ms. */
  stages: Array<[string, number, number, number]>;
}

interface JobTimes {
  added: number;
  taken: number;
}

async function jobTimes(redis: Redis, prefix: string, queue: string): Promise<Map<string, JobTimes>> {
  const ids = await redis.zrange(`${prefix}:${queue}:completed`, 0, -1);
  const pipeline = redis.pipeline();
  for (const id of ids) pipeline.hmget(`${prefix}:${queue}:${id}`, 'timestamp', 'processedOn', 'data');
  const byEmail = new Map<string, JobTimes>();
  for (const [, row] of (await pipeline.exec()) ?? []) {
    const [added, taken, data] = row as [string | null, string | null, string | null];
    if (!added || !taken || !data) continue;
    const parsed = JSON.parse(data) as { email_id?: string; subject: string; sender: string; date: string };
    byEmail.set(parsed.email_id ?? computeEmailId(parsed), { added: Number(added), taken: Number(taken) });
  }
  return byEmail;
}

/**
 * `sentAt` and `receivedAt` are wall-clock ms (Date.now) per email id. Pipelines with one job per email
 * have no delivery queue: their last stage runs from the email job being taken to the webhook.
 */
export async function stageSummary(
  redisUrl: string,
  prefix: string,
  sentAt: Map<string, number>,
  receivedAt: Map<string, number>,
): Promise<StageSummary> {
  const redis = new Redis(redisUrl);
  try {
    const emails = await jobTimes(redis, prefix, 'email');
    const deliveries = await jobTimes(redis, prefix, 'delivery');
    const columns = new Map<string, number[]>();
    const add = (name: string, ms: number) => (columns.get(name) ?? columns.set(name, []).get(name)!).push(ms);
    let count = 0;
    for (const [id, sent] of sentAt) {
      const email = emails.get(id);
      const received = receivedAt.get(id);
      if (!email || received === undefined) continue;
      const delivery = deliveries.get(id);
      if (deliveries.size > 0 && !delivery) continue;
      count += 1;
      add('POST → email job queued', email.added - sent);
      add('email job waits for a worker', email.taken - email.added);
      if (delivery) {
        add('email job taken → delivery job queued', delivery.added - email.taken);
        add('delivery job waits for a worker', delivery.taken - delivery.added);
        add('delivery job taken → webhook received', received - delivery.taken);
      } else {
        add('email job taken → webhook received', received - email.taken);
      }
      add('total', received - sent);
    }
    const stages = [...columns].map(([name, values]): [string, number, number, number] => {
      const sorted = values.sort((a, b) => a - b);
      return [name, values.reduce((s, v) => s + v, 0) / values.length, percentile(sorted, 50), percentile(sorted, 99)];
    });
    return { emails: count, stages };
  } finally {
    redis.disconnect();
  }
}

export function formatStages(summary: StageSummary): string {
  const rows = summary.stages.map(
    ([name, mean, p50, p99]) =>
      `        ${name.padEnd(40)} mean ${mean.toFixed(1).padStart(6)}   p50 ${String(p50).padStart(4)}   p99 ${String(p99).padStart(4)} ms`,
  );
  return [`        where the time went (${summary.emails} emails, BullMQ job timestamps, ms resolution):`, ...rows].join('\n');
}
