import { randomUUID } from 'node:crypto';
import { computeEmailId, type ArrivalSource, type EmailContent } from '@render-signal/contracts';
import type { Producer, emailQueue } from '@render-signal/queue';
import { carriedMarkerFor } from './seen-emails';

export type AcceptStatus = 'queued' | 'already_processing' | 'already_processed';

export interface AcceptResult {
  status: AcceptStatus;
  email_id: string;
  job_id: string;
}

export interface AcceptOptions {
  /** How long an email id stays "seen" (ms). */
  dedupWindowMs: number;
  /** The `disable_email_id_dedup` flag: every POST is a new email. */
  dedupDisabled?: boolean;
  now?: number;
  /** Where the email came from (shown in its journey); the HTTP ingress by default. */
  source?: ArrivalSource;
}

/** States in which the email is still moving through the pipeline. */
const IN_FLIGHT_STATES = new Set(['waiting', 'active', 'delayed', 'prioritized', 'waiting-children']);

/**
 * Dedup and enqueue in one atomic step: BullMQ's `deduplication` option (a Redis key with a TTL,
 * checked and set inside the same Lua script that adds the job). There is never a moment where an
 * email is marked seen but not queued, so a crash cannot lose it. The job id is fresh per attempt:
 * when BullMQ answers with another id, the email was already accepted.
 */
export async function acceptEmail(
  email: EmailContent,
  producer: Producer<typeof emailQueue>,
  options: AcceptOptions,
): Promise<AcceptResult> {
  const emailId = computeEmailId(email);
  const acceptedAt = options.now ?? Date.now();
  // Forwarded by the original server (a marker carried by `npm run migrate`, keyed by its md5 id).
  if (!options.dedupDisabled && email.message_id) {
    if (await carriedMarkerFor(email, producer.connection, producer.prefix, acceptedAt)) {
      return { status: 'already_processed', email_id: emailId, job_id: '' };
    }
  }
  // ':' is reserved in BullMQ ids; email ids are hex or Gmail ids (letters, digits, _ . -). The suffix is 8 hex
  // digits of a UUID (Node serves those from a cached entropy pool, cheaper than randomBytes per request).
  const jobId = `${emailId}.${acceptedAt.toString(36)}${randomUUID().slice(0, 8)}`;
  const job = await producer.add(
    'process',
    { email_id: emailId, accepted_at: acceptedAt, ...(options.source ? { source: options.source } : {}), email },
    options.dedupDisabled ? { jobId } : { jobId, deduplication: { id: emailId, ttl: options.dedupWindowMs } },
  );
  if (job.id === jobId) return { status: 'queued', email_id: emailId, job_id: jobId };
  const existingId = job.id ?? '';
  const state = existingId ? await producer.queue.getJobState(existingId) : 'unknown';
  return { status: IN_FLIGHT_STATES.has(state) ? 'already_processing' : 'already_processed', email_id: emailId, job_id: existingId };
}
