import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import { replayRequestSchema } from '@render-signal/contracts';
import { previewReplay, replayView, resolveReplayRequest, startReplay, type ReplaySelectContext } from '@render-signal/journeys';
import type { AppDeps } from '../app-deps';
import { ApiError } from '../http/api-error';

/**
 * Bulk replay (docs/operations.md, « Renvoyer après une panne »): preview a filter (dry run), start a paced replay
 * (run by a worker's `replay.run` job), follow it, cancel it. Mounted behind the operator session (+ CSRF for the
 * POSTs) like every /api route.
 */

const replayIdSchema = z.string().regex(/^rp_[a-z0-9]{1,40}$/);
const listQuerySchema = z.object({ limit: z.coerce.number().int().min(1).max(200).default(50) });

function who(res: Response): string {
  const claims = res.locals.operator as { sub?: string; via?: string } | undefined;
  return claims ? `${claims.sub ?? 'operator'} (${claims.via ?? 'session'})` : 'operator';
}

export function replaysRouter(deps: Pick<AppDeps, 'env' | 'logger' | 'redis' | 'settings' | 'replays'>): Router {
  const router = Router();
  const { store, producer } = deps.replays;
  const context: ReplaySelectContext = {
    redis: deps.redis,
    prefix: deps.env.QUEUE_PREFIX,
    retention: { journeyMaxAgeDays: deps.env.JOURNEY_MAX_AGE_DAYS, journeyMaxEntries: deps.env.JOURNEY_MAX_ENTRIES },
  };

  const load = async (req: Request) => {
    const id = replayIdSchema.safeParse(req.params.id);
    const record = id.success ? await store.get(id.data) : null;
    if (!record) throw new ApiError(404, 'replay_not_found', `Aucun renvoi groupé ${String(req.params.id)}.`);
    return record;
  };

  router.post('/api/replays', async (req, res) => {
    const parsed = replayRequestSchema.safeParse(req.body ?? {});
    if (!parsed.success) {
      const errors = parsed.error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message }));
      throw new ApiError(400, 'invalid_request', `${errors[0]?.path || 'request'}: ${errors[0]?.message ?? 'invalid'}`, { errors });
    }
    const request = parsed.data;
    const { rules } = await deps.settings.get('routing_rules');
    const resolved = resolveReplayRequest(request, { rules: rules ?? [], maxRatePerS: deps.env.REPLAY_MAX_RATE_PER_S });
    if (!resolved.ok) throw new ApiError(resolved.status, resolved.code, resolved.message);
    if (request.dry_run) {
      res.json({ success: true, ...(await previewReplay(context, resolved.filter)) });
      return;
    }
    const record = await startReplay(
      { ...context, store, enqueueRun: async (id) => void (await producer.add('run', { replay_id: id }, { jobId: `replay.${id}` })) },
      { request, filter: resolved.filter, who: who(res), now: Date.now() },
    );
    deps.logger.info('replay.started', { replay_id: record.id, total: record.total, who: record.who, rate_per_s: record.rate_per_s });
    res.status(202).json({ success: true, id: record.id, total: record.total });
  });

  router.get('/api/replays', async (req, res) => {
    const query = listQuerySchema.safeParse(req.query);
    if (!query.success) throw new ApiError(400, 'invalid_request', 'limit: must be an integer from 1 to 200');
    const { limit } = query.data;
    res.json({ success: true, replays: (await store.list(limit)).map(replayView) });
  });

  router.get('/api/replays/:id', async (req, res) => {
    res.json({ success: true, ...replayView(await load(req)) });
  });

  router.post('/api/replays/:id/cancel', async (req, res) => {
    const record = await load(req);
    const state = await store.end(record.id, 'cancelled', Date.now());
    deps.logger.info('replay.cancel_requested', { replay_id: record.id, state, who: who(res) });
    res.json({ success: true, ...replayView((await store.get(record.id)) ?? record) });
  });
  return router;
}
