import type { Redis } from 'ioredis';
import { emailQueue } from '@render-signal/queue';

/**
 * Email ids already handled elsewhere (the original server's processed markers, carried by `npm run migrate`).
 * The ingress dedup is BullMQ's `deduplication` key of the email queue (`<prefix>:email:de:<email_id>`, see
 * accept-email.ts): a key that holds a job id which does not exist makes BullMQ answer with that id, the job
 * state is `unknown`, and the ingress answers `already_processed` — exactly as for an email we delivered
 * ourselves and whose job was since removed.
 */

/** The job id a carried marker points at. It never exists (':' cannot appear in the job ids we create). */
export const CARRIED_MARKER_JOB_ID = 'carried:original-server';

export function seenEmailKey(prefix: string, emailId: string): string {
  return `${prefix}:${emailQueue.name}:de:${emailId}`;
}

/**
 * Marks ids as seen for `ttlMs` each (BullMQ discards a dedup key without a TTL whose job is gone, so a TTL is
 * required). An id already seen keeps its own key. Returns the ids that were newly marked.
 */
export async function markEmailsSeen(redis: Redis, prefix: string, markers: ReadonlyArray<{ emailId: string; ttlMs: number }>) {
  const marked: string[] = [];
  for (let start = 0; start < markers.length; start += 500) {
    const chunk = markers.slice(start, start + 500);
    const pipeline = redis.pipeline();
    for (const m of chunk)
      pipeline.set(seenEmailKey(prefix, m.emailId), CARRIED_MARKER_JOB_ID, 'PX', Math.max(1, Math.round(m.ttlMs)), 'NX');
    const results = (await pipeline.exec()) ?? [];
    results.forEach(([error, reply], i) => {
      if (error) throw error;
      if (reply === 'OK') marked.push(chunk[i]!.emailId);
    });
  }
  return marked;
}

/** Which of these ids are already seen (one round trip per 500). */
export async function seenEmails(redis: Redis, prefix: string, emailIds: readonly string[]): Promise<Set<string>> {
  const seen = new Set<string>();
  for (let start = 0; start < emailIds.length; start += 500) {
    const chunk = emailIds.slice(start, start + 500);
    const pipeline = redis.pipeline();
    for (const id of chunk) pipeline.exists(seenEmailKey(prefix, id));
    const results = (await pipeline.exec()) ?? [];
    results.forEach(([error, reply], i) => {
      if (error) throw error;
      if (reply === 1) seen.add(chunk[i]!);
    });
  }
  return seen;
}
