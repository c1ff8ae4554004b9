import type { Job } from 'bullmq';
import { z } from 'zod';
import type { SendAlertJob } from '@render-signal/contracts';
import { AlertChannelError, type AlertChannel, type AlertSender } from '@render-signal/delivery';
import type { Logger, WorkerMetrics } from '@render-signal/observability';

export interface SendAlertDeps {
  sender: Pick<AlertSender, 'send'>;
  metrics: Pick<WorkerMetrics, 'alertsSent'>;
  logger: Logger;
}

/** The job's progress: the channels already sent, so a retry after one channel failed does not repeat the other. */
const progressSchema = z.object({ sent: z.array(z.enum(['webhook', 'email'])) });

/** The `alert.send` job: one alert on every configured channel; a failed channel is retried by BullMQ (logged, in /health). */
export async function sendAlertJob(job: Job<SendAlertJob>, deps: SendAlertDeps): Promise<{ sent: AlertChannel[] }> {
  const previous = progressSchema.safeParse(job.progress);
  const done = new Set<AlertChannel>(previous.success ? previous.data.sent : []);
  const log = deps.logger.child({ alert_id: job.id, event: job.data.event, target: job.data.target });
  try {
    const sent = await deps.sender.send(job.data, job.id ?? `${job.data.event}.${job.data.at}`, done);
    for (const channel of sent) deps.metrics.alertsSent.inc({ channel, event: job.data.event });
    log.info('alert.sent', { channels: [...done, ...sent], attempt: job.attemptsMade + 1 });
    return { sent: [...done, ...sent] };
  } catch (error) {
    if (error instanceof AlertChannelError) {
      for (const channel of error.sent) deps.metrics.alertsSent.inc({ channel, event: job.data.event });
      if (error.sent.length > 0) await job.updateProgress({ sent: [...done, ...error.sent] });
    }
    log.warn('alert.failed', { error: (error as Error).message, attempt: job.attemptsMade + 1, max_attempts: job.opts.attempts });
    throw error;
  }
}
