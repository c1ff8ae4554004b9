import type { Job, Queue } from 'bullmq';
import type { ReceivedWebhook } from '../webhook-sink';
import { sleep, waitFor, type FaultStack } from './stack';

/** Emails one target must receive, and what it received (from every incarnation of its sink). */
export interface TargetExpectation {
  target: string;
  emailIds: readonly string[];
  receipts: readonly ReceivedWebhook[];
}

export interface DeadLetter {
  queue: 'email' | 'delivery';
  emailId: string;
  jobId: string;
  failedReason: string;
  /** The delivery's classified reason from its job log (`blocked_target`, `upstream_server_error`…). */
  failureReason?: string;
  attemptsMade: number;
  target?: string;
}

export interface Ledger {
  /** Deliveries owed: one per (accepted email, target). */
  expected: number;
  /** Distinct webhook-ids received for owed deliveries. */
  delivered: number;
  /** Receipts beyond the first per webhook-id (at-least-once redeliveries). */
  duplicates: number;
  /** Owed deliveries never received. */
  missing: Array<{ target: string; emailId: string }>;
  /** Missing ones that sit in a failed set (the dead letter, replayable). */
  deadLettered: DeadLetter[];
  /** Missing and nowhere to be found: a lost email. Must always be empty. */
  lost: Array<{ target: string; emailId: string }>;
  /** Every job of the failed sets, owed or not. */
  failedJobs: DeadLetter[];
}

async function readDeadLetters(queue: Queue, name: 'email' | 'delivery'): Promise<DeadLetter[]> {
  const jobs = (await queue.getFailed(0, -1)) as Job[];
  return Promise.all(
    jobs.map(async (job) => {
      const data = job.data as { email_id?: string; target?: { url?: string } };
      const { logs } = await queue.getJobLogs(job.id!, 0, -1);
      let failureReason: string | undefined;
      for (const line of logs) {
        try {
          const entry = JSON.parse(line) as { failure_reason?: string };
          if (entry.failure_reason) failureReason = entry.failure_reason;
        } catch {
          // not one of our attempt lines
        }
      }
      return {
        queue: name,
        emailId: data.email_id ?? '',
        jobId: job.id!,
        failedReason: job.failedReason,
        ...(failureReason ? { failureReason } : {}),
        attemptsMade: job.attemptsMade,
        ...(data.target?.url ? { target: data.target.url } : {}),
      };
    }),
  );
}

/** Compares what was accepted with what each target received, and looks for the missing ones in the failed sets. */
export async function reconcile(stack: Pick<FaultStack, 'queues'>, expectations: readonly TargetExpectation[]): Promise<Ledger> {
  const failedJobs = [
    ...(await readDeadLetters(stack.queues.email, 'email')),
    ...(await readDeadLetters(stack.queues.delivery, 'delivery')),
  ];
  const ledger: Ledger = { expected: 0, delivered: 0, duplicates: 0, missing: [], deadLettered: [], lost: [], failedJobs };
  for (const expectation of expectations) {
    const owed = new Set(expectation.emailIds);
    const seen = new Map<string, string>(); // webhook-id → email_id
    let receipts = 0;
    for (const receipt of expectation.receipts) {
      const emailId = String(receipt.json?.email_id ?? '');
      if (!owed.has(emailId)) continue;
      receipts += 1;
      seen.set(String(receipt.headers['webhook-id']), emailId);
    }
    const deliveredEmails = new Set(seen.values());
    ledger.expected += owed.size;
    ledger.delivered += seen.size;
    ledger.duplicates += receipts - seen.size;
    for (const emailId of owed) {
      if (deliveredEmails.has(emailId)) continue;
      ledger.missing.push({ target: expectation.target, emailId });
      const dead = failedJobs.find((j) => j.emailId === emailId && (j.queue === 'email' || j.target === expectation.target));
      if (dead) ledger.deadLettered.push(dead);
      else ledger.lost.push({ target: expectation.target, emailId });
    }
  }
  return ledger;
}

/**
 * Waits until every owed delivery arrived and no job can still produce one (no waiting, active, delayed…
 * job left), so late at-least-once redeliveries are counted too. Also returns when the queues are idle
 * with deliveries still missing: then they are dead letters or lost, and `reconcile` says which.
 */
export async function settle(
  stack: Pick<FaultStack, 'isIdle'>,
  expectations: readonly TargetExpectation[],
  timeoutMs: number,
): Promise<void> {
  const allDelivered = () =>
    expectations.every((e) => {
      const got = new Set(e.receipts.map((r) => String(r.json?.email_id ?? '')));
      return e.emailIds.every((id) => got.has(id));
    });
  await waitFor(
    async () => {
      if (!(await stack.isIdle())) return false;
      if (allDelivered()) return true;
      // Idle with deliveries missing: confirm it stays idle (a job between states is not idleness).
      await sleep(1_000);
      return stack.isIdle();
    },
    timeoutMs,
    'every accepted email delivered and the queues idle',
    250,
  );
}

/** One line per case in the test output: the figures the issue asks for. */
export function summaryLine(name: string, ledger: Ledger, elapsedMs: number, extra: Record<string, string | number> = {}): string {
  const fields = {
    expected: ledger.expected,
    delivered: ledger.delivered,
    duplicates: ledger.duplicates,
    dead_lettered: ledger.deadLettered.length,
    lost: ledger.lost.length,
    ...extra,
    time: `${(elapsedMs / 1000).toFixed(1)}s`,
  };
  return `[fault-suite] ${name}: ${Object.entries(fields)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ')}`;
}
