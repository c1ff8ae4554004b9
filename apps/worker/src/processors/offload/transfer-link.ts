import type { Job } from 'bullmq';
import type { OffloadLinkJob } from '@render-signal/contracts';
import type { Offloader, OffloadResult } from '@render-signal/offload';

export interface TransferLinkDeps {
  offloader: Offloader;
  now?: () => number;
}

/**
 * The `offload.transfer` job: copies one linked file to R2/S3 before the webhook leaves. It never
 * fails for an expected reason (the offloader returns the reason and the link keeps its source URL),
 * and it gives up at the email's deadline, so the parent email job always resumes in time.
 */
export async function transferLink(job: Job<OffloadLinkJob>, deps: TransferLinkDeps): Promise<OffloadResult & { index: number }> {
  const { email_id, link, index, deadline_at } = job.data;
  if ((deps.now?.() ?? Date.now()) >= deadline_at) return { ok: false, reason: 'deadline', detail: 'deadline passed before the transfer started', index };
  const result = await deps.offloader.offload(link, { emailId: email_id, deadlineMs: deadline_at });
  return { ...result, index };
}
