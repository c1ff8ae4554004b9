import { UnrecoverableError, WaitingChildrenError, type Job } from 'bullmq';
import {
  deliveryJobData,
  type DeliverWebhookJob,
  type EmailJobResult,
  type OffloadLinkJob,
  type ProcessEmailJob,
} from '@render-signal/contracts';
import { readSettings, type SettingsStore } from '@render-signal/config-store';
import { attemptBody, PermanentDeliveryError, webhookIdFor, type PayloadDeliveryLink, type WebhookLog } from '@render-signal/delivery';
import {
  dispatchedEvent,
  offloadEvent,
  plannedEvent,
  receivedEvent,
  skippedEvent,
  sentEvent,
  holdJourneyEvents,
  type JourneyRecorder,
} from '@render-signal/journeys';
import type { LinkProvider } from '@render-signal/detectors';
import type { OffloadResult } from '@render-signal/offload';
import { maskUrl, type Logger } from '@render-signal/observability';
import type { deliveryQueue, offloadQueue, Producer } from '@render-signal/queue';
import {
  buildDeliveries,
  planEmail,
  storedRouteSchema,
  type PlanContext,
  type PlannedDelivery,
  type StoredRoute,
} from '@render-signal/pipeline';
import { attemptDelivery, type DeliveryAttemptDeps } from '../../pipeline/delivery-attempt';
import type { FastPathRefusal, TargetGate } from '../../pipeline/target-gate';

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

/** The job's return value (kept with the completed job; the API reads `delivery` back): packages/contracts. */
export type ProcessEmailResult = EmailJobResult;

/**
 * Why an email took delivery jobs although the fast path is on (`rs_fast_path_fallback_total{reason}`): more than
 * one target, links to offload first, a re-run of the job (it may already have handed over), no job lock to hold
 * (no token), or the gate's refusal (no fast-path slot, slow or busy host, rate window full).
 */
export type FastPathFallback = 'fan_out' | 'offload' | 'rerun' | 'no_lock' | FastPathRefusal;

/** What detection found, repeated on the email's outcome line (`email.routed`, `delivery.succeeded`, `email.handed_over`). */
interface Detected {
  detector: string | null;
  delivery_time: string | undefined;
  links: number;
}

/** One run of an email job: what every step reads (as Svix's worker passes a `DispatchContext`). */
interface EmailRun {
  job: Job<ProcessEmailJob>;
  /** The job's lock token: without it the job can neither wait for children nor deliver itself. */
  token: string | undefined;
  deps: ProcessEmailDeps;
  log: Logger;
  now(): number;
  detected?: Detected;
}

/** A link to copy to R2 before delivering, with its index in the email's links. */
interface OffloadableLink {
  link: PayloadDeliveryLink;
  index: number;
}

/**
 * Where an email's deliveries go, decided once per plan (`choosePath`): offload transfers first (then delivery
 * jobs), the fast path (if the gate admits the target when the deliveries are built), or delivery jobs.
 */
type DeliveryPath =
  { via: 'offload'; offloadable: OffloadableLink[] } | { via: 'fast' } | { via: 'jobs'; fallback?: FastPathFallback | undefined };

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
 * after a crash take the delivery jobs (`choosePath`, `FastPathFallback`).
 */
export async function processEmail(
  job: Job<ProcessEmailJob>,
  token: string | undefined,
  deps: ProcessEmailDeps,
): Promise<ProcessEmailResult> {
  const run = (d: ProcessEmailDeps): EmailRun => ({
    job,
    token,
    deps: d,
    log: d.logger.child({ email_id: job.data.email_id }),
    now: () => d.now?.() ?? Date.now(),
  });
  if (!deps.journeys) return processSteps(run(deps));
  // The job's journey events are written together when it ends: on the fast path, one write per email.
  const journeys = holdJourneyEvents(deps.journeys);
  try {
    return await processSteps(run({ ...deps, journeys }));
  } finally {
    journeys.release();
  }
}

async function processSteps(run: EmailRun): Promise<ProcessEmailResult> {
  const { job, deps, log } = run;
  const data = job.data;
  const now = new Date(run.now());

  if (data.step === 'offload' && data.route) {
    // Saved by this job before it waited for its offload children (maybe by another process, another version).
    const saved = storedRouteSchema.safeParse(data.route);
    if (!saved.success)
      throw new UnrecoverableError(`invalid saved route: ${saved.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ')}`);
    const route = saved.data;
    const links = await mergeOffloadResults(run, route.links, offloadableLinks(route.links, deps.providers));
    return dispatch(run, route, links, { via: 'jobs' });
  }

  const settings = await readSettings(deps.settings);
  const plan = planEmail(data, { ...deps.planContext(settings, now), settings, now });
  // One line per decision: detection goes with the outcome (routed / offloading / skipped).
  run.detected = { detector: plan.detection.detector, delivery_time: plan.detection.delivery_time, links: plan.links?.length ?? 0 };

  const journeys = deps.journeys;
  journeys?.record(
    data.email_id,
    receivedEvent({
      jobId: job.id,
      acceptedAt: data.accepted_at,
      source: data.source,
      subject: data.email.subject,
      sender: data.email.sender,
      now: now.getTime(),
    }),
  );

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
      ...run.detected,
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
    return { deliveries: 0, skipped: skip.reason } satisfies ProcessEmailResult;
  }

  const { routing: _routing, ...decided } = plan;
  const route: StoredRoute = { ...decided, retry: deps.retryFor(settings) };
  const path = choosePath(run, route, deps.offload ? offloadableLinks(plan.links, deps.providers) : []);
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
      offloading: path.via === 'offload' ? path.offloadable.length : 0,
      now: now.getTime(),
    }),
  );
  if (path.via === 'offload') return offloadThenDispatch(run, route, path.offloadable);
  return dispatch(run, route, plan.links, path);
}

/** The one place that decides an email's path; the gate's admission (fast path) comes when its delivery is built. */
function choosePath(run: EmailRun, route: StoredRoute, offloadable: OffloadableLink[]): DeliveryPath {
  const { deps, token, job } = run;
  if (deps.offload && offloadable.length > 0 && token) return { via: 'offload', offloadable };
  if (!deps.fastPath) return { via: 'jobs' };
  if (route.targets.length !== 1) return { via: 'jobs', fallback: 'fan_out' };
  if (!token) return { via: 'jobs', fallback: 'no_lock' };
  // A re-run (stalled after a crash, or retried) may already have handed over: then only the idempotent enqueue.
  if (job.attemptsStarted > 1) return { via: 'jobs', fallback: 'rerun' };
  return { via: 'fast' };
}

/** Links whose provider allows offload (R2), with their index: found once per run, from the links planned or saved. */
function offloadableLinks(links: readonly PayloadDeliveryLink[], providers: readonly LinkProvider[]): OffloadableLink[] {
  return links
    .map((link, index) => ({ link, index }))
    .filter(({ link }) => providers.some((p) => p.id === link.provider && p.offloadAllowed));
}

/** Offload children first; the job waits for them (no worker slot held), then delivers through delivery jobs. */
async function offloadThenDispatch(run: EmailRun, route: StoredRoute, offloadable: OffloadableLink[]): Promise<ProcessEmailResult> {
  const { job, deps, log } = run;
  const offload = deps.offload!;
  const data = job.data;
  const deadline = run.now() + offload.deadlineMs;
  // The fast path is on but an email with links to copy never takes it.
  if (deps.fastPath) deps.fastPath.attempt.metrics.fastPathFallback.inc({ reason: 'offload' });
  await offload.producer.addBulk(
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
  log.info('email.offloading', { ...run.detected, offloading: offloadable.length, deadline_ms: offload.deadlineMs });
  if (await job.moveToWaitingChildren(run.token!)) throw new WaitingChildrenError();
  const links = await mergeOffloadResults(run, route.links, offloadable);
  return { ...(await dispatch(run, route, links, { via: 'jobs' })), offloads: offloadable.length };
}

/** Links with `direct_url` (as the original added when R2 was on) and, where a transfer succeeded, `r2_url`. */
async function mergeOffloadResults(
  run: EmailRun,
  links: PayloadDeliveryLink[],
  offloadable: OffloadableLink[],
): Promise<PayloadDeliveryLink[]> {
  const values = await run.job.getChildrenValues<OffloadResult & { index: number }>();
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
  run.log.info('email.offload_merged', { links: links.length, offloaded: merged.filter((l) => l.r2_url).length });
  run.deps.journeys?.record(
    run.job.data.email_id,
    offloadEvent({ links, results: byIndex, offloaded: offloadable.map((l) => l.index), now: run.now() }),
  );
  return merged;
}

/** The one builder of this email's delivery job data, for a planned delivery (enqueued, handed over, or kept as sent). */
function deliveryJob(run: EmailRun, route: StoredRoute, delivery: PlannedDelivery, firstAttempt?: DeliverWebhookJob['first_attempt']) {
  const { data } = run.job;
  return deliveryJobData({
    email_id: data.email_id,
    accepted_at: data.accepted_at,
    webhook_id: delivery.webhookId,
    target: delivery.target,
    payload: delivery.payload,
    payload_format: delivery.format,
    extracted: delivery.extracted,
    subject: data.email.subject,
    retry_floor_ms: route.retry.floorMs,
    kind: 'email',
    first_attempt: firstAttempt,
  });
}

/** A delivery job's options: its id is the webhook id (an enqueue repeated by a re-run is a no-op). */
const deliveryJobOptions = (route: StoredRoute, delivery: PlannedDelivery) => ({
  jobId: delivery.webhookId,
  attempts: route.retry.attempts,
  priority: delivery.priority,
});

/** Builds the deliveries from the final links, then delivers the one target itself (fast path) or enqueues delivery jobs. */
async function dispatch(
  run: EmailRun,
  route: StoredRoute,
  links: PayloadDeliveryLink[],
  path: Exclude<DeliveryPath, { via: 'offload' }>,
): Promise<ProcessEmailResult> {
  const { job, deps, log } = run;
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
      now: run.now(),
    }),
  );
  let fallback = path.via === 'jobs' ? path.fallback : undefined;
  if (path.via === 'fast' && deps.fastPath && deliveries.length === 1) {
    const single = deliveries[0]!;
    const admission = await deps.fastPath.gate.admitFast(single.target.url);
    if (admission.admitted) return deliverItself(run, route, single, deps.fastPath);
    fallback = admission.reason;
  }
  if (fallback) deps.fastPath?.attempt.metrics.fastPathFallback.inc({ reason: fallback });
  const jobs = deliveries.map((delivery) => ({
    name: 'deliver' as const,
    data: deliveryJob(run, route, delivery),
    opts: deliveryJobOptions(route, delivery),
  }));
  // One target (the common case): a plain add, without addBulk's MULTI/EXEC around it.
  if (jobs.length === 1) await deps.deliveryProducer.add(jobs[0]!.name, jobs[0]!.data, jobs[0]!.opts);
  else await deps.deliveryProducer.addBulk(jobs);
  log.info('email.routed', {
    ...run.detected,
    deliveries: deliveries.length,
    ...(fallback ? { fast_path_fallback: fallback } : {}),
    targets: deliveries.map((d) => ({
      origin: d.target.origin,
      url: maskUrl(d.target.url),
      webhook_id: d.webhookId,
      priority: d.priority,
    })),
  });
  return { deliveries: deliveries.length } satisfies ProcessEmailResult;
}

/** The fast path: one attempt from the email job; a failure is handed to a delivery job with the same webhook-id. */
async function deliverItself(
  run: EmailRun,
  route: StoredRoute,
  delivery: PlannedDelivery,
  fast: NonNullable<ProcessEmailDeps['fastPath']>,
): Promise<ProcessEmailResult> {
  const { deps } = run;
  const sent = deliveryJob(run, route, delivery);
  const targetLog = run.log.child({ webhook_id: delivery.webhookId, target: maskUrl(delivery.target.url), origin: delivery.target.origin });
  let answeredInMs: number | undefined;
  try {
    const outcome = await attemptDelivery(
      {
        delivery: sent,
        // Serialised once, from the payload just built (a flat / template body rendered at the attempt): the bytes sent and signed.
        body: attemptBody(sent, fast.attempt.renderer),
        attempt: 1,
        maxAttempts: route.retry.attempts,
        path: 'fast',
      },
      { ...fast.attempt, journeys: deps.journeys },
      targetLog,
    );
    if (outcome.ok) {
      answeredInMs = outcome.result.duration_ms;
      // The email's one line at info (the event delivery jobs log too): what was detected, where it went, how it went.
      targetLog.info('delivery.succeeded', {
        ...run.detected,
        path: 'fast',
        status: outcome.result.status,
        duration_ms: outcome.result.duration_ms,
        end_to_end_ms: outcome.endToEndMs,
        fallback_used: outcome.result.fallback_used,
      });
      if (!deps.journeys) return { deliveries: 1, fast_path: 'delivered', delivery: sent } satisfies ProcessEmailResult;
      // What was sent, for the console (payload view, re-delivery): in the journey, written with its other events,
      // kept as long as it; the completed email job then holds nothing the console needs (docs/architecture.md).
      deps.journeys.record(
        sent.email_id,
        sentEvent({
          webhookId: sent.webhook_id,
          target: sent.target,
          payload: sent.payload,
          retryFloorMs: sent.retry_floor_ms,
          payloadFormat: sent.payload_format,
          extracted: sent.extracted,
          now: run.now(),
        }),
      );
      return { deliveries: 1, fast_path: 'delivered' } satisfies ProcessEmailResult;
    }
    answeredInMs = outcome.error.facts.duration_ms;
    const firstAttempt = { permanent: outcome.error instanceof PermanentDeliveryError, facts: outcome.error.facts };
    await deps.deliveryProducer.add('deliver', deliveryJob(run, route, delivery, firstAttempt), deliveryJobOptions(route, delivery));
    targetLog.info('email.handed_over', { ...run.detected, reason: outcome.error.facts.failure_reason, final: outcome.final });
    return { deliveries: 1, fast_path: 'handed_over' } satisfies ProcessEmailResult;
  } finally {
    fast.gate.release(delivery.target.url, answeredInMs, true);
  }
}
