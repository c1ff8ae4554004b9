import type { DeadLetterDigest } from '@render-signal/delivery';
import type { alertQueue, Producer } from '@render-signal/queue';

export interface DeadLetterDigestDeps {
  digest: Pick<DeadLetterDigest, 'take'>;
  alerts: Pick<Producer<typeof alertQueue>, 'add'>;
  now?: () => number;
}

/**
 * The `alert.digest` job (a job scheduler: once per ALERT_DIGEST_INTERVAL across all workers): the dead letters
 * counted since the previous run, per target and reason, become one `dead_letters.digest` alert; none, no alert.
 */
export async function deadLetterDigestJob(deps: DeadLetterDigestDeps): Promise<{ dead_letters: number }> {
  const counts = await deps.digest.take();
  if (counts.length === 0) return { dead_letters: 0 };
  const at = deps.now?.() ?? Date.now();
  await deps.alerts.add('send', { event: 'dead_letters.digest', at, digest: counts.slice(0, 50) }, { jobId: `digest.${at}` });
  return { dead_letters: counts.reduce((sum, c) => sum + c.count, 0) };
}
