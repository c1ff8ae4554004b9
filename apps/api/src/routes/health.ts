import { createHash, timingSafeEqual } from 'node:crypto';
import { Router } from 'express';
import { readSettings, resolveDefaultTarget, resolveTimeWindow } from '@render-signal/config-store';
import { isProduction } from '@render-signal/config';
import {
  failingTargets,
  healthProblems,
  liveWorkerCount,
  renderMetrics,
  RENDER_SIGNAL_VERSION,
  type HealthProblem,
} from '@render-signal/observability';
import { isWithinWindow, weekdayIn } from '@render-signal/routing';
import type { Mailbox } from '@render-signal/gmail';
import { alertQueue } from '@render-signal/queue';
import type { AppDeps } from '../app-deps';

const HOUR_MS = 3_600_000;
/** A mailbox not synced for this many backup-poll intervals is flagged stale. */
const GMAIL_STALE_POLLS = 3;
/** A resync cut short by its bound keeps /health degraded this long (the operator must know mail was skipped). */
const RESYNC_TRUNCATED_NOTICE_MS = 24 * HOUR_MS;

function withTimeout<T>(promise: Promise<T>, ms: number, fallback: T): Promise<T> {
  return Promise.race([promise.catch(() => fallback), new Promise<T>((resolve) => setTimeout(() => resolve(fallback), ms).unref())]);
}

/** Longest age of the /health facts: a burst of probes costs one Redis read per this period. */
export const HEALTH_CACHE_MS = 2_000;

/** The live settings' switches that the overview puts in words (null: Redis down, unknown). */
export interface SettingsFacts {
  ingressEnabled: boolean;
  sendingEnabled: boolean;
  absenceToday: boolean;
  /** Null: no time window configured. */
  withinWindow: boolean | null;
  window: { start?: string | null | undefined; end?: string | null | undefined };
}

/** What /health reports, read from Redis (queues, workers, webhook log, config, mailboxes). */
export interface HealthFacts {
  redisOk: boolean;
  queues: Record<string, { waiting: number; active: number; delayed: number; failed: number }>;
  workers: number;
  webhook: { error_rate_24h: number; active_webhooks: number; last_webhook: string | null };
  /** A default webhook or at least one routing rule exists (else every email fails with no_target). */
  hasTarget: boolean;
  /** Targets (masked) whose latest attempts all failed, from the same webhook-log read. */
  failingTargets: Array<{ target: string; consecutive_failures: number }>;
  settings: SettingsFacts | null;
  mailboxes: Mailbox[];
  /** Destination health: every target not healthy (masked), with its held deliveries. */
  targets: Array<{ id: string; target: string; state: string; operator: boolean; held: number; since: string }>;
}

/** Reads the facts; the one costly step (the webhook log) runs at most once per HEALTH_CACHE_MS (see healthCache). */
export async function gatherHealthFacts(
  deps: Pick<AppDeps, 'env' | 'redis' | 'settings' | 'queues' | 'webhookLog' | 'gmail' | 'targets'>,
  now = Date.now(),
): Promise<HealthFacts> {
  const redisOk = await withTimeout(
    deps.redis.ping().then(() => true),
    1_000,
    false,
  );
  if (!redisOk)
    return {
      redisOk,
      queues: {},
      workers: 0,
      webhook: { error_rate_24h: 0, active_webhooks: 0, last_webhook: null },
      hasTarget: true,
      failingTargets: [],
      settings: null,
      mailboxes: [],
      targets: [],
    };
  const settings = await readSettings(deps.settings);
  const config = settings.webhook_config;
  const window = resolveTimeWindow(config, deps.env);
  const today = new Date(now);
  const settingsFacts: SettingsFacts = {
    ingressEnabled: settings.runtime_flags.gmail_ingress_enabled,
    sendingEnabled: config.webhook_sending_enabled,
    absenceToday:
      config.absence_pause_enabled && (config.absence_pause_days as string[]).includes(weekdayIn(today, deps.env.POLLING_TIMEZONE)),
    withinWindow: isWithinWindow(today, window.start, window.end, deps.env.POLLING_TIMEZONE),
    window,
  };
  const hasTarget = resolveDefaultTarget(settings.webhook_config, deps.env) !== null || settings.routing_rules.rules.length > 0;
  const [counts, workers, logs, mailboxes, targets] = await Promise.all([
    Promise.all(
      deps.queues.map(async (q) => [q.name, await q.getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'failed')] as const),
    ),
    liveWorkerCount(deps.redis, deps.env.QUEUE_PREFIX),
    deps.webhookLog.list({ days: 1, limit: 5_000 }),
    deps.gmail.mailboxes.list(),
    troubledTargets(deps),
  ]);
  const queues = Object.fromEntries(
    counts.map(([name, c]) => [
      name,
      { waiting: (c.waiting ?? 0) + (c.prioritized ?? 0), active: c.active ?? 0, delayed: c.delayed ?? 0, failed: c.failed ?? 0 },
    ]),
  );
  const attempts = logs.filter((l) => l.status !== 'skipped');
  const errors = attempts.filter((l) => l.status === 'error').length;
  const webhook = {
    error_rate_24h: attempts.length ? Math.round((errors / attempts.length) * 1000) / 10 : 0,
    active_webhooks: logs.filter((l) => l.status === 'success' && now - Date.parse(l.timestamp) < HOUR_MS).length,
    last_webhook: logs.find((l) => l.status === 'success')?.timestamp ?? null,
  };
  return {
    redisOk,
    queues,
    workers,
    webhook,
    hasTarget,
    failingTargets: failingTargets(logs),
    settings: settingsFacts,
    mailboxes,
    targets,
  };
}

/** Targets that are not healthy, with their held counts (a handful at most: one read per such target). */
async function troubledTargets(deps: Pick<AppDeps, 'targets'>): Promise<HealthFacts['targets']> {
  const records = (await deps.targets.store.readAll()).filter((r) => r.state !== 'healthy');
  return Promise.all(
    records.map(async (r) => ({
      id: r.id,
      target: r.target,
      state: r.state,
      operator: r.operator,
      held: await deps.targets.store.heldCount(r.id),
      since: new Date(r.since).toISOString(),
    })),
  );
}

/** Dead letters are the failed jobs of every queue but `alert` (a failed alert is its own problem). */
const deadLettersOf = (queues: HealthFacts['queues']) =>
  Object.entries(queues).reduce((sum, [name, q]) => sum + (name === alertQueue.name ? 0 : q.failed), 0);

export interface HealthContext {
  gmailPushEnabled: boolean;
  /** A mailbox with no successful sync for this long is flagged stale (GMAIL_STALE_POLLS × GMAIL_POLL_INTERVAL). */
  gmailStaleAfterMs: number;
  deadLetterThreshold: number;
  now: number;
  startedAt: number;
  memoryRssBytes: number;
}

/**
 * Pure: every problem and notice, in words (packages/observability's healthProblems). Those that
 * `degrade` make /health's `problems` and `status`; notices (window, absence, switches) do not.
 */
export function problemDetails(
  facts: HealthFacts,
  context: Pick<HealthContext, 'gmailPushEnabled' | 'gmailStaleAfterMs' | 'deadLetterThreshold' | 'now'>,
): HealthProblem[] {
  const gmail = gmailHealth(context.gmailPushEnabled, facts.mailboxes, context.now, context.gmailStaleAfterMs);
  return healthProblems({
    redisOk: facts.redisOk,
    workers: facts.workers,
    deadLetters: deadLettersOf(facts.queues),
    targetStates: facts.targets,
    failedAlerts: facts.queues[alertQueue.name]?.failed ?? 0,
    deadLetterThreshold: context.deadLetterThreshold,
    hasTarget: facts.hasTarget,
    failingTargets: facts.failingTargets,
    ingressEnabled: facts.settings?.ingressEnabled ?? null,
    sendingEnabled: facts.settings?.sendingEnabled ?? null,
    absenceToday: facts.settings?.absenceToday ?? false,
    withinWindow: facts.settings?.withinWindow ?? null,
    window: facts.settings?.window ?? {},
    gmail: { problems: gmail.problems, needsReauth: gmail.section.needs_reauth },
  });
}

/** Pure: the /health document (the seed's fields, plus problems, queues and the Gmail section) and its status code. */
export function buildHealthDocument(facts: HealthFacts, context: HealthContext) {
  const deadLetters = deadLettersOf(facts.queues);
  const details = problemDetails(facts, context);
  const problems = details.filter((p) => p.degrades).map((p) => p.code);
  return {
    httpStatus: facts.redisOk ? 200 : 503,
    body: {
      status: problems.length === 0 ? 'ok' : 'degraded',
      problems,
      /** Every problem and notice in words, degrading or not (the dashboard's overview). */
      problem_details: details.map(({ code, severity, message }) => ({ code, severity, message })),
      timestamp: new Date(context.now).toISOString(),
      version: RENDER_SIGNAL_VERSION,
      uptime: Math.round((context.now - context.startedAt) / 1000),
      services: {
        redis: { status: facts.redisOk ? 'ok' : 'down', connected: facts.redisOk },
        background_tasks: { status: facts.workers > 0 ? 'running' : 'stopped', workers: facts.workers },
      },
      metrics: {
        memory_usage_mb: Math.round(context.memoryRssBytes / 1024 / 1024),
        ...facts.webhook,
        dead_letters: deadLetters,
      },
      queues: facts.queues,
      /** Destination health: targets paused, failing or recovering (masked), with their held deliveries. */
      targets: {
        paused: facts.targets.filter((t) => t.state === 'paused'),
        failing: facts.targets.filter((t) => t.state === 'failing'),
        recovering: facts.targets.filter((t) => t.state === 'recovering'),
      },
      alerts: { failed: facts.queues[alertQueue.name]?.failed ?? 0 },
      gmail: gmailHealth(context.gmailPushEnabled, facts.mailboxes, context.now, context.gmailStaleAfterMs).section,
    },
  };
}

/**
 * Keeps the last facts for `ttlMs`; concurrent callers past that share one refresh (single flight), so
 * /health costs about what /healthz does however often it is probed.
 */
export function healthCache(load: () => Promise<HealthFacts>, ttlMs = HEALTH_CACHE_MS, clock: () => number = Date.now) {
  let cached: { facts: HealthFacts; at: number } | undefined;
  let inFlight: Promise<HealthFacts> | undefined;
  return async (): Promise<HealthFacts> => {
    if (cached && clock() - cached.at < ttlMs) return cached.facts;
    inFlight ??= load()
      .then((facts) => {
        cached = { facts, at: clock() };
        return facts;
      })
      .finally(() => {
        inFlight = undefined;
      });
    return inFlight;
  };
}

/**
 * - `/api/ping`: the original's public `{status: "pong", timestamp_utc}` for uptime monitors (GET and HEAD).
 * - `/healthz`: liveness, never touches Redis (a Redis outage must not get the API restarted).
 * - `/readyz`: 200 only when Redis answers (load balancers stop sending traffic otherwise).
 * - `/health`: the status document for people and monitors, from facts at most HEALTH_CACHE_MS old.
 *   Public: it holds counts and timestamps only, never a URL, token or email content.
 * - `/metrics`: Prometheus text (API + every live worker). Behind METRICS_TOKEN when set; in production
 *   without a token it answers 401 unless METRICS_PUBLIC=true.
 */
export function healthRouter(deps: AppDeps): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  // The original's uptime-monitor endpoint, public as it was: GET and HEAD, never touches Redis.
  router.get('/api/ping', (_req, res) => {
    res.set('Cache-Control', 'no-store').json({ status: 'pong', timestamp_utc: new Date().toISOString() });
  });
  router.get('/readyz', async (_req, res) => {
    const redisOk = await withTimeout(
      deps.redis.ping().then(() => true),
      1_000,
      false,
    );
    res.status(redisOk ? 200 : 503).json({ status: redisOk ? 'ready' : 'unavailable', services: { redis: redisOk ? 'ok' : 'down' } });
  });

  const facts = healthCache(() => gatherHealthFacts(deps));
  router.get('/health', async (_req, res) => {
    const { httpStatus, body } = buildHealthDocument(await facts(), {
      gmailPushEnabled: deps.env.GMAIL_PUSH_ENABLED,
      gmailStaleAfterMs: GMAIL_STALE_POLLS * deps.env.GMAIL_POLL_INTERVAL,
      deadLetterThreshold: deps.env.HEALTH_DEAD_LETTER_THRESHOLD,
      now: Date.now(),
      startedAt: deps.startedAt,
      memoryRssBytes: process.memoryUsage.rss(),
    });
    res.status(httpStatus).json(body);
  });

  const metricsToken = deps.env.METRICS_TOKEN ? createHash('sha256').update(deps.env.METRICS_TOKEN).digest() : undefined;
  const metricsOpen = !metricsToken && (deps.env.METRICS_PUBLIC || !isProduction(deps.env));
  router.get('/metrics', async (req, res) => {
    if (!metricsOpen) {
      const presented = createHash('sha256')
        .update((req.get('authorization') ?? '').replace(/^Bearer\s+/i, ''))
        .digest();
      // No token configured in production: nothing matches, every scrape is refused until one is set.
      if (!metricsToken || !timingSafeEqual(presented, metricsToken)) {
        res
          .status(401)
          .set('WWW-Authenticate', 'Bearer realm="metrics"')
          .json({
            success: false,
            code: 'unauthorized',
            message: metricsToken
              ? 'Unauthorized'
              : 'Unauthorized: METRICS_TOKEN is not set (production); set it and send it as a Bearer token, or set METRICS_PUBLIC=true',
          });
        return;
      }
    }
    const depths = await Promise.all(
      deps.queues.map(
        async (q) => [q.name, await q.getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'failed', 'waiting-children')] as const,
      ),
    );
    for (const [queue, counts] of depths)
      for (const [state, value] of Object.entries(counts)) deps.metrics.queueJobs.set({ queue, state }, value);
    const states = { healthy: 0, failing: 1, paused: 2, recovering: 3 } as const;
    deps.metrics.targetState.reset();
    deps.metrics.targetHeld.reset();
    for (const record of await deps.targets.store.readAll()) {
      deps.metrics.targetState.set({ target: record.target }, states[record.state]);
      deps.metrics.targetHeld.set(
        { target: record.target },
        record.state === 'healthy' ? 0 : await deps.targets.store.heldCount(record.id),
      );
    }
    const { contentType, body } = await renderMetrics({
      redis: deps.redis,
      prefix: deps.env.QUEUE_PREFIX,
      apiRegistry: deps.metrics.registry,
    });
    res.setHeader('content-type', contentType);
    res.send(body);
  });
  return router;
}

/** `a***@example.org`: /health is public, so a mailbox is recognisable to its operator but not harvestable. */
function maskAddress(address: string): string {
  const at = address.lastIndexOf('@');
  return at > 0 ? `${address[0]}***${address.slice(at)}` : '***';
}

/**
 * The Gmail push section: per mailbox its state and timestamps (never a token), and what needs
 * attention: `needs_reauth` (token refused: run gmail:connect again), `renewal_failed` (the last
 * users.watch renewal failed, shown at once, before the watch lapses), `stale_sync` (no successful
 * sync for `staleAfterMs`), `resync_truncated` (a full resync stopped at GMAIL_RESYNC_MAX_MESSAGES
 * in the last 24 h), `sync_error` (a sync fails for a reason retrying cannot fix, e.g. a label name
 * in GMAIL_LABEL_FILTER).
 */
export function gmailHealth(enabled: boolean, mailboxes: readonly Mailbox[], now = Date.now(), staleAfterMs = 9 * 60_000) {
  const iso = (ms: number | undefined) => (ms ? new Date(ms).toISOString() : null);
  const rows = mailboxes.map((m) => {
    const active = m.state === 'active';
    return {
      mailbox: m,
      watchLapsed: active && m.watchExpiresAt !== undefined && m.watchExpiresAt < now,
      renewalFailed: active && m.watchFailedAt !== undefined,
      staleSync: enabled && active && now - Math.max(m.lastSyncAt ?? 0, m.lastConnectAt) > staleAfterMs,
      resyncTruncated: m.resyncTruncatedAt !== undefined && now - m.resyncTruncatedAt < RESYNC_TRUNCATED_NOTICE_MS,
      syncError: active && m.syncError !== undefined,
    };
  });
  const count = (pick: (r: (typeof rows)[number]) => boolean) => rows.filter(pick).length;
  const needsReauth = count((r) => r.mailbox.state === 'needs_reauth');
  const renewalFailed = count((r) => r.renewalFailed);
  const staleSync = count((r) => r.staleSync);
  const resyncTruncated = count((r) => r.resyncTruncated);
  const syncFailing = count((r) => r.syncError);
  return {
    problems: [
      ...(needsReauth > 0 ? ['gmail_needs_reauth'] : []),
      ...(enabled && count((r) => r.watchLapsed) > 0 ? ['gmail_watch_expired'] : []),
      ...(enabled && renewalFailed > 0 ? ['gmail_watch_renewal_failed'] : []),
      ...(staleSync > 0 ? ['gmail_sync_stale'] : []),
      ...(resyncTruncated > 0 ? ['gmail_resync_truncated'] : []),
      ...(enabled && syncFailing > 0 ? ['gmail_sync_failing'] : []),
    ],
    section: {
      enabled,
      connected: mailboxes.length,
      active: mailboxes.length - needsReauth,
      needs_reauth: needsReauth,
      renewal_failed: renewalFailed,
      stale_sync: staleSync,
      resync_truncated: resyncTruncated,
      sync_failing: syncFailing,
      stale_after_seconds: Math.round(staleAfterMs / 1000),
      mailboxes: rows.map(({ mailbox: m, ...r }) => ({
        mailbox: maskAddress(m.address),
        state: m.state,
        auth: m.auth,
        last_error: m.lastError ?? null,
        watch_expires_at: iso(m.watchExpiresAt),
        last_sync_at: iso(m.lastSyncAt),
        renewal_failed: r.renewalFailed,
        renewal_failed_at: iso(m.watchFailedAt),
        renewal_error: m.watchError ?? null,
        stale_sync: r.staleSync,
        resync_truncated: r.resyncTruncated,
        resync_truncated_at: iso(m.resyncTruncatedAt),
        sync_error: m.syncError ?? null,
      })),
    },
  };
}
