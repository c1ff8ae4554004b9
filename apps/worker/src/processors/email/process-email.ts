import { UnrecoverableError, WaitingChildrenError, type Job } from 'bullmq';
import type { DeliverWebhookJob, OffloadLinkJob, ProcessEmailJob } from '@render-signal/contracts';
import { readSettings, type SettingsStore } from '@render-signal/config-store';
import { attemptBody, PermanentDeliveryError, webhookIdFor, type PayloadDeliveryLink, type WebhookLog } from '@render-signal/delivery';
import {
  dispatchedEvent,
  offloadEvent,
  plannedEvent,
  receivedEvent,
  skippedEvent,
  holdJourneyEvents,
  type JourneyRecorder,
} from '@render-signal/journeys';
import type { LinkProvider } from '@render-signal/detectors';
import type { OffloadResult } from '@render-signal/offload';
import { maskUrl, type Logger } from '@render-signal/observability';
import type { deliveryQueue, offloadQueue, Producer } from '@render-signal/queue';
import {
  buildDeliveries,
  formatFields,
  planEmail,
  storedRouteSchema,
  type PlanContext,
  type PlannedDelivery,
  type StoredRoute,
} from '@render-signal/pipeline';
import { attemptDelivery, type DeliveryAttemptDeps } from '../../pipeline/delivery-attempt';
import type { TargetGate } from '../../pipeline/target-gate';

export interface ProcessEmailDeps {
  logger: Logger;
  settings: SettingsStore;
  webhookLog: WebhookLog;
  deliveryProducer: Producer<typeof deliveryQueue>;
  /** Resolved per email from the settings snapshot (stored values over env defaults). */
  planContext(settings: Awaited<ReturnType<typeof readSettings>>, now: Date): Omit<PlanContext, 'settings' | 'now'>;
  providers: readonly LinkProvider[];
  /** Attempts and retry floor for deliveries, from the retry schedule bounded by processing_prefs. */
  retryFor(settings: Awaited<ReturnType<typeof readSettings>>): { attempts: number; floorMs?: number };
  /** Present when file offload is enabled. */
  offload?: { producer: Producer<typeof offloadQueue>; deadlineMs: number };
  /** The email's journey (dashboard): events batched to Redis, never awaited on the hot path. */
  journeys?: JourneyRecorder;
  /** Present when the email job may deliver a single target itself (the fast path). */
  fastPath?: { gate: Pick<TargetGate, 'admitFast' | 'release'>; attempt: DeliveryAttemptDeps };
  now?: () => number;
}

export interface ProcessEmailResult {
  deliveries: number;
  skipped?: string;
  offloads?: number;
  /** Delivered by this job itself (fast path): `delivered`, or `handed_over` to a delivery job after a failed attempt. */
  fast_path?: 'delivered' | 'handed_over';
  /**
   * A fast-path delivery, as a delivery job would have held it (target, exact payload, webhook id): with no
   * delivery job, the dashboard reads it here to show the payload sent and to re-deliver it.
   */
  delivery?: DeliverWebhookJob;
}

/**
 * The `email.process` job, in steps:
 * 1. `plan`: detect → window → links → route (one settings snapshot). Offloadable links become
 *    `offload.transfer` children and the job waits for them (BullMQ parent/child), so a slow 2 GB transfer
 *    holds no worker slot.
 * 2. `offload` (resumed when every child finished, succeeded or not): merge the R2 URLs that are ready.
 * Then one `delivery.deliver` job per target, with deterministic ids: a retried step never doubles a delivery.
 * Fast path: one target and no offload, on the job's first run, with the target admitted at once by the gate
 * (`admitFast`): the job POSTs itself, with the same webhook-id; a failed attempt becomes a delivery job that
 * carries it (`first_attempt`) and owns the retries. Fan-outs, offloads, busy or slow targets and re-runs
 * after a crash take the delivery jobs.
 */
export async function processEmail(
  job: Job<ProcessEmailJob>,
  token: string | undefined,
  deps: ProcessEmailDeps,
): Promise<ProcessEmailResult> {
  if (!deps.journeys) return processSteps(job, token, deps);
  // The job's journey events are written together when it ends: on the fast path, one write per email.
  const journeys = holdJourneyEvents(deps.journeys);
  try {
    return await processSteps(job, token, { ...deps, journeys });
  } finally {
    journeys.release();
  }
}

async function processSteps(job: Job<ProcessEmailJob>, token: string | undefined, deps: ProcessEmailDeps): Promise<ProcessEmailResult> {
  const data = job.data;
  const log = deps.logger.child({ email_id: data.email_id });
  const now = new Date(deps.now?.() ?? Date.now());

  if (data.step === 'offload' && data.route) {
    // Saved by this job before it waited for its offload children (maybe by another process, another version).
    const saved = storedRouteSchema.safeParse(data.route);
    if (!saved.success)
      throw new UnrecoverableError(`invalid saved route: ${saved.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ')}`);
    const route = saved.data;
    const links = await mergeOffloadResults(job, route.links, log, deps);
    return enqueueDeliveries(job, route, links, deps, log);
  }

  const settings = await readSettings(deps.settings);
  const plan = planEmail(data, { ...deps.planContext(settings, now), settings, now });
  // One line per decision: detection goes with the outcome (routed / offloading / skipped).
  const detected = { detector: plan.detection.detector, delivery_time: plan.detection.delivery_time, links: plan.links?.length ?? 0 };

  const journeys = deps.journeys;
  if (journeys) {
    const received = receivedEvent({
      jobId: job.id,
      acceptedAt: data.accepted_at,
      source: data.source,
      subject: data.email.subject,
      sender: data.email.sender,
      now: now.getTime(),
    });
    journeys.record(data.email_id, received);
  }

  if (plan.skip) {
    const { skip } = plan;
    journeys?.record(
      data.email_id,
      skippedEvent({
        detection: plan.detection,
        reason: skip.reason,
        detail: skip.detail,
        matches: plan.routing?.matches,
        now: now.getTime(),
      }),
    );
    log[skip.reason === 'no_target' ? 'error' : 'info']('email.skipped', {
      ...detected,
      reason: skip.reason,
      detail: skip.detail,
      marked_processed: skip.markProcessed,
    });
    if (skip.webhookLog) {
      await deps.webhookLog.append({
        type: 'custom',
        email_id: data.email_id,
        subject: data.email.subject,
        webhook_url: null,
        ...skip.webhookLog,
        final: true,
      });
    }
    // The original left these unmarked: a later re-send of the same email is processed again.
    if (!skip.markProcessed) await job.removeDeduplicationKey();
    return { deliveries: 0, skipped: skip.reason };
  }

  const { routing: _routing, ...decided } = plan;
  const route: StoredRoute = { ...decided, retry: deps.retryFor(settings) };
  const offloadable = deps.offload
    ? plan.links.map((link, index) => ({ link, index })).filter(({ link }) => isOffloadable(link, deps.providers))
    : [];
  const willOffload = Boolean(deps.offload && offloadable.length > 0 && token);
  journeys?.record(
    data.email_id,
    plannedEvent({
      detection: plan.detection,
      windowVerdict: plan.windowVerdict,
      matches: plan.routing?.matches,
      stoppedBy: plan.routing?.stopped_by,
      links: plan.links,
      targets: plan.targets.map((t) => ({
        webhookId: webhookIdFor(data.email_id, t.target.url),
        url: t.target.url,
        origin: t.target.origin,
        priority: t.priority,
      })),
      offloading: willOffload ? offloadable.length : 0,
      now: now.getTime(),
    }),
  );
  if (deps.offload && offloadable.length > 0 && token) {
    const deadline = now.getTime() + deps.offload.deadlineMs;
    await deps.offload.producer.addBulk(
      offloadable.map(({ link, index }) => ({
        name: 'transfer' as const,
        data: {
          email_id: data.email_id,
          index,
          link: { provider: link.provider, raw_url: link.raw_url },
          deadline_at: deadline,
        } satisfies OffloadLinkJob,
        opts: {
          jobId: `${job.id}.offload.${index}`,
          parent: { id: job.id!, queue: job.queueQualifiedName },
          // A failed transfer must not block the email: the link keeps its source URL.
          ignoreDependencyOnFailure: true,
        },
      })),
    );
    await job.updateData({ ...data, step: 'offload', route });
    log.info('email.offloading', { ...detected, offloading: offloadable.length, deadline_ms: deps.offload.deadlineMs });
    if (await job.moveToWaitingChildren(token)) throw new WaitingChildrenError();
    const links = await mergeOffloadResults(job, route.links, log, deps);
    return { ...(await enqueueDeliveries(job, route, links, deps, log)), offloads: offloadable.length };
  }
  return enqueueDeliveries(job, route, plan.links, deps, log, detected, Boolean(token));
}

function isOffloadable(link: PayloadDeliveryLink, providers: readonly LinkProvider[]): boolean {
  return providers.some((p) => p.id === link.provider && p.offloadAllowed);
}

/** Links with `direct_url` (as the original added when R2 was on) and, where a transfer succeeded, `r2_url`. */
async function mergeOffloadResults(
  job: Job<ProcessEmailJob>,
  links: PayloadDeliveryLink[],
  log: Logger,
  deps: Pick<ProcessEmailDeps, 'journeys' | 'providers' | 'now'>,
): Promise<PayloadDeliveryLink[]> {
  const values = await job.getChildrenValues<OffloadResult & { index: number }>();
  const byIndex = new Map<number, OffloadResult>();
  for (const value of Object.values(values)) if (value && typeof value.index === 'number') byIndex.set(value.index, value);
  const merged = links.map((link, index) => {
    const result = byIndex.get(index);
    const enriched: PayloadDeliveryLink = { ...link, direct_url: link.direct_url ?? link.raw_url };
    if (result?.ok) {
      enriched.r2_url = result.r2_url;
      if (result.original_filename) enriched.original_filename = result.original_filename;
    }
    return enriched;
  });
  log.info('email.offload_merged', { links: links.length, offloaded: merged.filter((l) => l.r2_url).length });
  deps.journeys?.record(
    job.data.email_id,
    offloadEvent({
      links,
      results: byIndex,
      offloaded: links
        .map((link, index) => ({ link, index }))
        .filter(({ link }) => isOffloadable(link, deps.providers))
        .map((l) => l.index),
      now: deps.now?.() ?? Date.now(),
    }),
  );
  return merged;
}

async function enqueueDeliveries(
  job: Job<ProcessEmailJob>,
  route: StoredRoute,
  links: PayloadDeliveryLink[],
  deps: ProcessEmailDeps,
  log: Logger,
  detected: Record<string, unknown> = {},
  mayDeliverItself = false,
): Promise<ProcessEmailResult> {
  const deliveries = buildDeliveries(job.data, route, links);
  deps.journeys?.record(
    job.data.email_id,
    dispatchedEvent({
      deliveries: deliveries.map((d) => ({
        webhookId: d.webhookId,
        jobId: d.webhookId,
        target: d.target,
        payload: d.payload,
        priority: d.priority,
      })),
      now: deps.now?.() ?? Date.now(),
    }),
  );
  // A re-run (stalled after a crash, or retried) may already have handed over: then only the idempotent enqueue.
  const single = deliveries.length === 1 ? deliveries[0]! : undefined;
  if (single && mayDeliverItself && deps.fastPath && job.attemptsStarted <= 1 && (await deps.fastPath.gate.admitFast(single.target.url)))
    return deliverItself(job, route, single, deps.fastPath, deps, log, detected);
  const jobs = deliveries.map((delivery) => ({
    name: 'deliver' as const,
    data: {
      email_id: job.data.email_id,
      accepted_at: job.data.accepted_at,
      webhook_id: delivery.webhookId,
      target: delivery.target,
      payload: delivery.payload,
      ...formatFields(delivery),
      subject: job.data.email.subject,
      ...(route.retry.floorMs !== undefined ? { retry_floor_ms: route.retry.floorMs } : {}),
      kind: 'email' as const,
    },
    opts: { jobId: delivery.webhookId, attempts: route.retry.attempts, priority: delivery.priority },
  }));
  // One target (the common case): a plain add, without addBulk's MULTI/EXEC around it.
  if (jobs.length === 1) await deps.deliveryProducer.add(jobs[0]!.name, jobs[0]!.data, jobs[0]!.opts);
  else await deps.deliveryProducer.addBulk(jobs);
  log.info('email.routed', {
    ...detected,
    deliveries: deliveries.length,
    targets: deliveries.map((d) => ({
      origin: d.target.origin,
      url: maskUrl(d.target.url),
      webhook_id: d.webhookId,
      priority: d.priority,
    })),
  });
  return { deliveries: deliveries.length };
}

/** The fast path: one attempt from the email job; a failure is handed to a delivery job with the same webhook-id. */
async function deliverItself(
  job: Job<ProcessEmailJob>,
  route: StoredRoute,
  delivery: PlannedDelivery,
  fast: NonNullable<ProcessEmailDeps['fastPath']>,
  deps: ProcessEmailDeps,
  log: Logger,
  detected: Record<string, unknown>,
): Promise<ProcessEmailResult> {
  const data = job.data;
  const attempt = {
    delivery: {
      email_id: data.email_id,
      accepted_at: data.accepted_at,
      webhook_id: delivery.webhookId,
      target: delivery.target,
      subject: data.email.subject,
      kind: 'email' as const,
    },
    // Serialised once, from the payload just built (or rendered at the attempt): the bytes sent and signed.
    body: attemptBody({ ...delivery, ...formatFields(delivery), webhook_id: delivery.webhookId }, fast.attempt.renderer),
    attempt: 1,
    maxAttempts: route.retry.attempts,
    path: 'fast' as const,
  };
  const targetLog = log.child({ webhook_id: delivery.webhookId, target: maskUrl(delivery.target.url), origin: delivery.target.origin });
  let answeredInMs: number | undefined;
  try {
    const outcome = await attemptDelivery(attempt, { ...fast.attempt, journeys: deps.journeys }, targetLog);
    if (outcome.ok) {
      answeredInMs = outcome.result.duration_ms;
      // The email's one line at info (the event delivery jobs log too): what was detected, where it went, how it went.
      targetLog.info('delivery.succeeded', {
        ...detected,
        path: 'fast',
        status: outcome.result.status,
        duration_ms: outcome.result.duration_ms,
        end_to_end_ms: outcome.endToEndMs,
        fallback_used: outcome.result.fallback_used,
      });
      const sent: DeliverWebhookJob = {
        ...attempt.delivery,
        payload: delivery.payload,
        ...formatFields(delivery),
        ...(route.retry.floorMs !== undefined ? { retry_floor_ms: route.retry.floorMs } : {}),
      };
      return { deliveries: 1, fast_path: 'delivered', delivery: sent };
    }
    answeredInMs = outcome.error.facts.duration_ms;
    await deps.deliveryProducer.add(
      'deliver',
      {
        ...attempt.delivery,
        payload: delivery.payload,
        ...formatFields(delivery),
        ...(route.retry.floorMs !== undefined ? { retry_floor_ms: route.retry.floorMs } : {}),
        first_attempt: { permanent: outcome.error instanceof PermanentDeliveryError, facts: outcome.error.facts },
      },
      { jobId: delivery.webhookId, attempts: route.retry.attempts, priority: delivery.priority },
    );
    targetLog.info('email.handed_over', { ...detected, reason: outcome.error.facts.failure_reason, final: outcome.final });
    return { deliveries: 1, fast_path: 'handed_over' };
  } finally {
    fast.gate.release(delivery.target.url, answeredInMs, true);
  }
}
