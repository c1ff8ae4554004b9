import { DelayedError, UnrecoverableError, type Job, type Queue, type Worker } from 'bullmq';
import { readSettings, type Settings, type SettingsStore } from '@render-signal/config-store';
import {
  deliveryJobData,
  processEmailJobSchema,
  type DeliverWebhookJob,
  type ReplayItem,
  type ReplayRecord,
  type ReplayRunJob,
} from '@render-signal/contracts';
import type { DeliveryRetry } from '@render-signal/delivery';
import { buildDeliveries, planEmail, type PlanContext } from '@render-signal/pipeline';
import { dispatchedEvent, foldJourney, sentDeliveryOf, type JourneyRecorder, type JourneyStore } from '@render-signal/journeys';
import type { Logger } from '@render-signal/observability';
import type { deliveryQueue, Producer, ReplayStore } from '@render-signal/queue';

/**
 * The `replay.run` job: one per bulk replay. Walks the replay's saved selection from its cursor and queues one
 * delivery job per (email, target) at `rate_per_s`, with a deterministic job id (`<webhook_id>.<replay id>`), so
 * a run taken over after a crash re-queues at most its last step, which BullMQ ignores (same id) and the record
 * counts once. The delivery jobs go through the target gate like any delivery (per-host cap, hourly rate limit,
 * paused targets). It checks the record at every step (at most every TICK_MS): a cancelled replay queues
 * nothing more and removes its jobs not yet sent. Once every item is queued it stays until their outcomes are
 * counted (the delivery workers count them as they end; it also counts any an exiting worker missed).
 */

export interface ReplayRunDeps {
  logger: Logger;
  replays: ReplayStore;
  journeys: Pick<JourneyStore, 'events'>;
  recorder?: Pick<JourneyRecorder, 'record' | 'flush'> | undefined;
  deliveryProducer: Producer<typeof deliveryQueue>;
  queues: { delivery: Queue; email: Queue | undefined };
  /** `payload: current`: the email planned again with today's settings (the email worker's plan context). */
  plan: {
    settings: SettingsStore;
    planContext(settings: Settings, now: Date): Omit<PlanContext, 'settings' | 'now'>;
    retryFor(settings: Settings): DeliveryRetry;
  };
  /** True once this process is shutting down: the run hands itself back to the queue (another worker resumes it). */
  closing?: () => boolean;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

/** Longest wait between two looks at the record (cancel is seen within this, plus one step). */
export const TICK_MS = 100;
/** At most this many deliveries queued per step (one addBulk). */
const STEP_MAX = 100;
const ITEMS_PAGE = 500;
/** While waiting for outcomes: how often the runner looks at the jobs the workers have not counted. */
const SETTLE_EVERY_MS = 1_000;

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function replayJobId(webhookId: string, replayId: string): string {
  return `${webhookId}.${replayId}`;
}

export async function runReplay(job: Job<ReplayRunJob>, token: string | undefined, deps: ReplayRunDeps): Promise<{ state: string }> {
  const now = deps.now ?? Date.now;
  const sleep = deps.sleep ?? delay;
  const id = job.data.replay_id;
  const log = deps.logger.child({ replay_id: id });
  let record = await deps.replays.get(id);
  if (!record) throw new UnrecoverableError(`replay ${id} is unknown (or its record is not valid)`);
  if (record.state !== 'running') return { state: record.state };
  await deps.replays.markStarted(id, now());
  log.info(record.cursor > 0 ? 'replay.resumed' : 'replay.running', { cursor: record.cursor, total: record.total });

  const startedAt = now();
  let handledThisRun = 0;
  let cursor = record.cursor;
  let buffer: ReplayItem[] = [];
  // Shutting down: back to the queue at once without spending an attempt; its progress is in the record.
  const handBack = async () => {
    log.info('replay.handed_back', { cursor });
    await job.moveToDelayed((deps.now ?? Date.now)(), token);
    throw new DelayedError();
  };
  while (!record.walked) {
    if (deps.closing?.() && token) await handBack();
    record = await deps.replays.get(id);
    if (!record || record.state !== 'running') return ended(record, deps, log);
    // The pace: items handled since this run started never run ahead of rate_per_s (the first one at once).
    const allowed = Math.floor(((now() - startedAt) / 1000) * record.rate_per_s) + 1 - handledThisRun;
    if (allowed <= 0) {
      await sleep(Math.min(TICK_MS, Math.ceil(1000 / record.rate_per_s)));
      continue;
    }
    if (buffer.length === 0) buffer = await deps.replays.items(id, cursor, ITEMS_PAGE);
    const batch = buffer.splice(0, Math.min(allowed, STEP_MAX));
    const { jobs, skipped } = batch.length ? await deliveriesFor(batch, record, deps, now()) : { jobs: [], skipped: 0 };
    // The journey says so first (written before the jobs exist): a delivery's attempt, recorded by whichever
    // worker sends it, must come after it, or « renvoyé » would turn a delivered target back to pending.
    for (const j of jobs) {
      // Planned again: the journey learns the delivery (its target id, for the filters and the journey view).
      if (j.priority !== undefined)
        deps.recorder?.record(
          j.data.email_id,
          dispatchedEvent({
            deliveries: [{ webhookId: j.data.webhook_id, jobId: j.jobId, target: j.data.target, priority: j.priority }],
            now: now(),
          }),
        );
      deps.recorder?.record(j.data.email_id, {
        type: 'redelivered',
        at: now(),
        deliveries: [{ webhook_id: j.data.webhook_id, job_id: j.jobId }],
        replay_id: id,
        by: record.who,
      });
    }
    if (jobs.length) await deps.recorder?.flush();
    if (jobs.length)
      await deps.deliveryProducer.addBulk(
        jobs.map((j) => ({
          name: 'deliver' as const,
          data: j.data,
          opts: { jobId: j.jobId, ...(j.attempts ? { attempts: j.attempts } : {}) },
        })),
      );
    cursor += batch.length;
    handledThisRun += batch.length;
    const last = batch.length === 0 || cursor >= record.total;
    await deps.replays.advance(id, {
      cursor,
      queuedJobIds: jobs.map((j) => j.jobId),
      skipped,
      last,
      now: now(),
    });
    if (last) break;
  }
  log.info('replay.walked', { total: record?.total });
  // Every item queued: wait for the outcomes (cancel still removes what is not sent yet).
  for (;;) {
    if (deps.closing?.() && token) await handBack();
    record = await deps.replays.get(id);
    if (!record || record.state !== 'running') return ended(record, deps, log);
    await settleOutcomes(id, deps);
    await sleep(SETTLE_EVERY_MS);
  }
}

/**
 * The delivery jobs of each item. `original`: the exact body and webhook-id kept from its last send. `current`: the
 * email (its kept `email.process` job) planned again with today's rules and settings, one job per target it goes
 * to now (a target it still goes to keeps its webhook-id: the id is one email × one URL; links are not offloaded again).
 */
async function deliveriesFor(batch: ReplayItem[], record: ReplayRecord, deps: ReplayRunDeps, now: number) {
  const settings = record.payload === 'current' ? await readSettings(deps.plan.settings) : undefined;
  // The step's items are read side by side (their reads share the connection's round trips), kept in order.
  const perItem = await Promise.all(
    batch.map(async (item): Promise<ReplayDelivery[]> => {
      const stored = await deps.journeys.events(item.email_id);
      const journey = stored ? foldJourney(item.email_id, stored.events) : null;
      if (journey && settings) return plannedAgain(item, journey.received?.job_id, settings, record, deps, now);
      const target = journey?.targets.find((t) => t.webhook_id === item.webhook_id);
      const jobs = {
        deliveryJob: (jobId: string) => deps.queues.delivery.getJob(jobId),
        emailJob: async (jobId: string) => (await deps.queues.email?.getJob(jobId)) ?? null,
      };
      const sent = target && stored && journey ? await sentDeliveryOf(jobs, target, { events: stored.events, journey }) : null;
      if (!sent) {
        deps.logger.warn('replay.delivery_gone', { replay_id: record.id, email_id: item.email_id, webhook_id: item.webhook_id });
        return [];
      }
      // Same webhook-id, target and exact payload; a fast-path hand-over's pending first attempt is not carried.
      const data = deliveryJobData({
        email_id: sent.email_id,
        accepted_at: now,
        webhook_id: sent.webhook_id,
        target: sent.target,
        payload: sent.payload,
        subject: sent.subject,
        retry_floor_ms: sent.retry_floor_ms,
        kind: 'email',
        replay_id: record.id,
      });
      return [{ jobId: replayJobId(data.webhook_id, record.id), data }];
    }),
  );
  return { jobs: perItem.flat(), skipped: perItem.filter((jobs) => jobs.length === 0).length };
}

interface ReplayDelivery {
  jobId: string;
  data: DeliverWebhookJob;
  /** `current`: today's retry settings (`original` keeps the queue's default, as a re-delivery does). */
  attempts?: number;
  /** `current`: the planned priority (the delivery is recorded as dispatched in the journey). */
  priority?: number;
}

async function plannedAgain(
  item: ReplayItem,
  emailJobId: string | null | undefined,
  settings: Settings,
  record: ReplayRecord,
  deps: ReplayRunDeps,
  now: number,
): Promise<ReplayDelivery[]> {
  const emailJob = emailJobId ? await deps.queues.email?.getJob(emailJobId) : undefined;
  const email = processEmailJobSchema.safeParse(emailJob?.data);
  if (!email.success) {
    deps.logger.warn('replay.email_gone', { replay_id: record.id, email_id: item.email_id });
    return [];
  }
  const at = new Date(now);
  const plan = planEmail(email.data, { ...deps.plan.planContext(settings, at), settings, now: at });
  if (plan.skip) {
    deps.logger.info('replay.skipped_by_plan', { replay_id: record.id, email_id: item.email_id, reason: plan.skip.reason });
    return [];
  }
  const retry = deps.plan.retryFor(settings);
  return buildDeliveries(email.data, plan, plan.links).map((d) => ({
    jobId: replayJobId(d.webhookId, record.id),
    data: deliveryJobData({
      email_id: item.email_id,
      accepted_at: now,
      webhook_id: d.webhookId,
      target: d.target,
      payload: d.payload,
      subject: email.data.email.subject,
      retry_floor_ms: retry.floorMs,
      kind: 'email',
      replay_id: record.id,
    }),
    attempts: retry.attempts,
    priority: d.priority,
  }));
}

/** Counts the outcome of queued jobs that ended without their worker counting it (a worker killed in between). */
async function settleOutcomes(id: string, deps: ReplayRunDeps): Promise<void> {
  const pending = await deps.replays.pendingJobIds(id);
  for (let i = 0; i < pending.length; i += 200) {
    const states = await Promise.all(
      pending.slice(i, i + 200).map(async (jobId) => [jobId, await deps.queues.delivery.getJobState(jobId)]),
    );
    for (const [jobId, state] of states) {
      if (state === 'completed' || state === 'failed')
        await deps.replays.outcome(id, jobId!, state === 'completed' ? 'delivered' : 'failed', Date.now());
    }
  }
}

/** Cancelled: the jobs queued and not yet sent are removed (a running attempt finishes). */
async function ended(record: ReplayRecord | null, deps: ReplayRunDeps, log: Logger): Promise<{ state: string }> {
  if (!record) return { state: 'gone' };
  if (record.state === 'cancelled') {
    let removed = 0;
    for (const jobId of await deps.replays.pendingJobIds(record.id)) {
      const job = await deps.queues.delivery.getJob(jobId);
      const state = job ? await job.getState() : 'unknown';
      if (state !== 'waiting' && state !== 'delayed' && state !== 'prioritized') continue;
      await job!.remove().then(
        () => (removed += 1),
        () => {},
      );
    }
    log.info('replay.cancelled', { sent: record.sent, removed_unsent: removed });
  } else log.info('replay.ended', { state: record.state, delivered: record.delivered, failed: record.failed, skipped: record.skipped });
  return { state: record.state };
}

/** The delivery worker counts each replayed job's outcome in its replay (delivered, or failed for good). */
export function countReplayOutcomes(worker: Worker<DeliverWebhookJob>, deps: Pick<ReplayRunDeps, 'replays' | 'logger'>): void {
  const count = (job: Job<DeliverWebhookJob>, outcome: 'delivered' | 'failed') => {
    const replayId = job.data.replay_id;
    if (!replayId || !job.id) return;
    deps.replays
      .outcome(replayId, job.id, outcome, Date.now())
      .catch((error: Error) => deps.logger.warn('replay.outcome_unrecorded', { replay_id: replayId, error: error.message }));
  };
  worker.on('completed', (job) => count(job, 'delivered'));
  worker.on('failed', (job, error) => {
    if (job && (job.attemptsMade >= (job.opts.attempts ?? 1) || error instanceof UnrecoverableError)) count(job, 'failed');
  });
}
