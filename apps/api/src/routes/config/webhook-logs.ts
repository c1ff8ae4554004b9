import { Router } from 'express';
import type { AppDeps } from '../../app-deps';
import { ok } from './respond';

const STATUSES = new Set(['success', 'error', 'skipped']);

/** GET /api/webhook_logs?days=N — the original's filter rules (default 7, <1 → 7, >30 → 30, max 50), plus ?status= and ?limit=. */
export function webhookLogsRouter(deps: AppDeps): Router {
  const router = Router();
  router.get('/api/webhook_logs', async (req, res) => {
    const rawDays = Number.parseInt(String(req.query.days ?? '7'), 10);
    const days = Number.isNaN(rawDays) || rawDays < 1 ? 7 : Math.min(rawDays, 30);
    const rawLimit = Number.parseInt(String(req.query.limit ?? '50'), 10);
    const limit = Number.isNaN(rawLimit) || rawLimit < 1 ? 50 : Math.min(rawLimit, 500);
    const status =
      typeof req.query.status === 'string' && STATUSES.has(req.query.status)
        ? (req.query.status as 'success' | 'error' | 'skipped')
        : undefined;
    const logs = await deps.webhookLog.list({ days, limit, ...(status ? { status } : {}) });
    ok(res, { logs, count: logs.length, days_filter: days });
  });
  return router;
}
