import type { Cluster, Redis } from 'ioredis';
import { computeEmailId, type EmailContent } from '@render-signal/contracts';
import { emailQueue, redisScript } from '@render-signal/queue';

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

/** Until when (epoch ms) carried markers exist: the ingress skips the legacy-id check after that. */
export const carriedMarkersUntilKey = (prefix: string) => `${prefix}:migration:markers_until`;

const RAISE_UNTIL = redisScript(`
-- Raises "until when carried markers exist": only ever raised; the key expires with the last marker.
-- KEYS[1] the "until" key
-- ARGV[1] epoch ms
-- Returns 1.
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if current < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1], 'PXAT', ARGV[1]) end
return 1
`);

/**
 * Marks ids as seen for `ttlMs` each (BullMQ discards a dedup key without a TTL whose job is gone, so a TTL is
 * required). An id already seen keeps its own key. Returns the ids that were newly marked.
 */
export async function markEmailsSeen(redis: Redis | Cluster, prefix: string, markers: ReadonlyArray<{ emailId: string; ttlMs: number }>) {
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
  if (markers.length > 0) {
    const until = Date.now() + Math.max(...markers.map((m) => m.ttlMs));
    await RAISE_UNTIL.run(redis, [carriedMarkersUntilKey(prefix)], [String(Math.round(until))]);
  }
  return marked;
}

/** Which of these ids are already seen (one round trip per 500). */
export async function seenEmails(redis: Redis | Cluster, prefix: string, emailIds: readonly string[]): Promise<Set<string>> {
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

/** Per connection and prefix: the "until" value and when it was read (re-read at most once a minute). */
const untilCache = new WeakMap<object, Map<string, { until: number; readAt: number }>>();
const UNTIL_CACHE_MS = 60_000;

/**
 * An email posted with a Gmail `message_id` (our Apps Script) gets that id, while the original's markers are keyed
 * by md5(subject|sender|date). While carried markers exist, such an email is also looked up under its md5 id, so an
 * email the original already forwarded is not sent again after the Apps Script is replaced. One cached read a minute
 * otherwise: nothing is added to the hot path once the markers have expired (or when none were ever carried).
 */
export async function carriedMarkerFor(
  email: Pick<EmailContent, 'subject' | 'sender' | 'date' | 'message_id'>,
  redis: Pick<Redis, 'get'>,
  prefix: string,
  now = Date.now(),
): Promise<boolean> {
  if (!email.message_id) return false;
  let byPrefix = untilCache.get(redis);
  if (!byPrefix) untilCache.set(redis, (byPrefix = new Map()));
  let cached = byPrefix.get(prefix);
  if (!cached || now - cached.readAt > UNTIL_CACHE_MS) {
    cached = { until: Number((await redis.get(carriedMarkersUntilKey(prefix))) ?? 0) || 0, readAt: now };
    byPrefix.set(prefix, cached);
  }
  if (now >= cached.until) return false;
  const legacyId = computeEmailId({ subject: email.subject, sender: email.sender, date: email.date });
  return (await redis.get(seenEmailKey(prefix, legacyId))) === CARRIED_MARKER_JOB_ID;
}
