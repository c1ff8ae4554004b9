import type { Job } from 'bullmq';
import type { OffloadLinkJob } from '@render-signal/contracts';
import type { Offloader, OffloadResult } from '@render-signal/offload';
import type { WorkerMetrics } from '@render-signal/observability';

export interface TransferLinkDeps {
  offloader: Offloader;
  metrics: WorkerMetrics;
  now?: () => number;
}

/**
 * The `offload.transfer` job: copies one linked file to R2/S3 before the webhook leaves. It never
 * fails for an expected reason (the offloader returns the reason and the link keeps its source URL),
 * and it gives up at the email's deadline, so the parent email job always resumes in time.
 */
export async function transferLink(job: Job<OffloadLinkJob>, deps: TransferLinkDeps): Promise<OffloadResult & { index: number }> {
  const { email_id, link, index, deadline_at } = job.data;
  if ((deps.now?.() ?? Date.now()) >= deadline_at) {
    deps.metrics.offloads.inc({ outcome: 'failed', reason: 'deadline' });
    return { ok: false, reason: 'deadline', detail: 'deadline passed before the transfer started', index };
  }
  const result = await deps.offloader.offload(link, { emailId: email_id, deadlineMs: deadline_at });
  if (result.ok) {
    deps.metrics.offloads.inc({ outcome: result.cached ? 'cached' : 'transferred', reason: '' });
    if (result.bytes) deps.metrics.offloadBytes.inc(result.bytes);
  } else deps.metrics.offloads.inc({ outcome: 'failed', reason: result.reason });
  return { ...result, index };
}
