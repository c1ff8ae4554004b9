import { createHash, timingSafeEqual } from 'node:crypto';
import { Router } from 'express';
import { readSettings, resolveDefaultTarget } from '@render-signal/config-store';
import { liveWorkerCount, renderMetrics, RENDER_SIGNAL_VERSION } from '@render-signal/observability';
import type { Mailbox } from '@render-signal/gmail';
import type { AppDeps } from '../app';

const HOUR_MS = 3_600_000;

function withTimeout<T>(promise: Promise<T>, ms: number, fallback: T): Promise<T> {
  return Promise.race([promise.catch(() => fallback), new Promise<T>((resolve) => setTimeout(() => resolve(fallback), ms).unref())]);
}

/**
 * - `/api/ping`: the original's public `{status: "pong", timestamp_utc}` for uptime monitors (GET and HEAD).
 * - `/healthz`: liveness, never touches Redis (a Redis outage must not get the API restarted).
 * - `/readyz`: 200 only when Redis answers (load balancers stop sending traffic otherwise).
 * - `/health`: the seed's status document for people and monitors. Public: it holds counts and
 *   timestamps only, never a URL, token or email content.
 * - `/metrics`: Prometheus text (API + every live worker), behind METRICS_TOKEN when set.
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

  router.get('/health', async (_req, res) => {
    const redisOk = await withTimeout(
      deps.redis.ping().then(() => true),
      1_000,
      false,
    );
    let queues: Record<string, { waiting: number; active: number; delayed: number; failed: number }> = {};
    let workers = 0;
    let webhook = { error_rate_24h: 0, active_webhooks: 0, last_webhook: null as string | null };
    let hasTarget = true;
    if (redisOk) {
      const settings = await readSettings(deps.settings);
      // No default webhook and no rule: every email would fail with no_target.
      hasTarget = resolveDefaultTarget(settings.webhook_config, deps.env) !== null || settings.routing_rules.rules.length > 0;
      const counts = await Promise.all(
        deps.queues.map(async (q) => [q.name, await q.getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'failed')] as const),
      );
      queues = Object.fromEntries(
        counts.map(([name, c]) => [
          name,
          { waiting: (c.waiting ?? 0) + (c.prioritized ?? 0), active: c.active ?? 0, delayed: c.delayed ?? 0, failed: c.failed ?? 0 },
        ]),
      );
      workers = await liveWorkerCount(deps.redis, deps.env.QUEUE_PREFIX);
      const logs = await deps.webhookLog.list({ days: 1, limit: 5_000 });
      const attempts = logs.filter((l) => l.status !== 'skipped');
      const errors = attempts.filter((l) => l.status === 'error').length;
      const now = Date.now();
      webhook = {
        error_rate_24h: attempts.length ? Math.round((errors / attempts.length) * 1000) / 10 : 0,
        active_webhooks: logs.filter((l) => l.status === 'success' && now - Date.parse(l.timestamp) < HOUR_MS).length,
        last_webhook: logs.find((l) => l.status === 'success')?.timestamp ?? null,
      };
    }
    const deadLetters = Object.values(queues).reduce((sum, q) => sum + q.failed, 0);
    const mailboxes = redisOk ? await deps.gmail.mailboxes.list() : [];
    const gmail = gmailHealth(deps.env.GMAIL_PUSH_ENABLED, mailboxes);
    const problems = [
      ...(redisOk ? [] : ['redis_unavailable']),
      ...(redisOk && workers === 0 ? ['no_workers'] : []),
      ...(hasTarget ? [] : ['no_webhook_target']),
      ...(deadLetters > deps.env.HEALTH_DEAD_LETTER_THRESHOLD ? ['dead_letters_growing'] : []),
      ...gmail.problems,
    ];
    res.status(redisOk ? 200 : 503).json({
      status: problems.length === 0 ? 'ok' : 'degraded',
      problems,
      timestamp: new Date().toISOString(),
      version: RENDER_SIGNAL_VERSION,
      uptime: Math.round((Date.now() - deps.startedAt) / 1000),
      services: {
        redis: { status: redisOk ? 'ok' : 'down', connected: redisOk },
        background_tasks: { status: workers > 0 ? 'running' : 'stopped', workers },
      },
      metrics: {
        memory_usage_mb: Math.round(process.memoryUsage().rss / 1024 / 1024),
        ...webhook,
        dead_letters: deadLetters,
      },
      queues,
      gmail: gmail.section,
    });
  });

  const metricsToken = deps.env.METRICS_TOKEN ? createHash('sha256').update(deps.env.METRICS_TOKEN).digest() : undefined;
  router.get('/metrics', async (req, res) => {
    if (metricsToken) {
      const presented = createHash('sha256')
        .update((req.get('authorization') ?? '').replace(/^Bearer\s+/i, ''))
        .digest();
      if (!timingSafeEqual(presented, metricsToken)) {
        res.status(401).json({ success: false, code: 'unauthorized', message: 'Unauthorized' });
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

/** The Gmail push section: per mailbox its state and timestamps (never a token), and what needs attention. */
export function gmailHealth(enabled: boolean, mailboxes: readonly Mailbox[], now = Date.now()) {
  const iso = (ms: number | undefined) => (ms ? new Date(ms).toISOString() : null);
  const needsReauth = mailboxes.filter((m) => m.state === 'needs_reauth').length;
  const watchLapsed = mailboxes.filter((m) => m.state === 'active' && m.watchExpiresAt !== undefined && m.watchExpiresAt < now).length;
  return {
    problems: [...(needsReauth > 0 ? ['gmail_needs_reauth'] : []), ...(enabled && watchLapsed > 0 ? ['gmail_watch_expired'] : [])],
    section: {
      enabled,
      connected: mailboxes.length,
      active: mailboxes.length - needsReauth,
      needs_reauth: needsReauth,
      mailboxes: mailboxes.map((m) => ({
        mailbox: maskAddress(m.address),
        state: m.state,
        auth: m.auth,
        watch_expires_at: iso(m.watchExpiresAt),
        last_sync_at: iso(m.lastSyncAt),
      })),
    },
  };
}
