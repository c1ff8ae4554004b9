import { Router } from 'express';
import { TARGET_ID_PATTERN } from '@render-signal/contracts';
import { applyOperatorAction, describeTarget, listTargets, OPERATOR_ACTIONS, type OperatorAction } from '@render-signal/delivery';
import type { AppDeps } from '../app-deps';
import { ApiError } from '../http/api-error';

const ACTION_MESSAGES: Record<OperatorAction, (held: number) => string> = {
  pause: (held) => `Cible mise en pause : ses envois sont retenus (${held} pour l'instant) jusqu'à la reprise.`,
  resume: (held) => `Cible reprise : ${held} envoi(s) retenu(s) partent, les plus anciens d'abord.`,
  release: (held) => `Libération lancée : ${held} envoi(s) retenu(s) partent, les plus anciens d'abord.`,
  discard: (held) =>
    `${held} envoi(s) retenu(s) abandonné(s) : ils passent en lettre morte (discarded_by_operator) et peuvent être renvoyés.`,
};

const unknownTarget = (id: string) => new ApiError(404, 'target_not_found', `Cible inconnue : ${id.slice(0, 40)}`);

/**
 * Destination health for operators (session + CSRF, under /api like every operator route):
 * - `GET /api/targets`: every known target (one that received an attempt, or was paused), worst first;
 * - `POST /api/targets/:id/pause | resume | release | discard`: the operator's actions, each one atomic
 *   transition (with its alert); `discard` needs a paused target (409 `target_not_paused`). Unknown id: 404.
 */
export function targetsRouter(deps: Pick<AppDeps, 'targets' | 'logger'>): Router {
  const router = Router();
  const { store } = deps.targets;

  router.get('/api/targets', async (_req, res) => {
    res.json({ success: true, targets: await listTargets(store) });
  });

  router.get('/api/targets/:id', async (req, res) => {
    const record = TARGET_ID_PATTERN.test(req.params.id) ? await store.read(req.params.id) : undefined;
    if (!record) throw unknownTarget(req.params.id);
    res.json({ success: true, target: await describeTarget(store, record) });
  });

  for (const action of OPERATOR_ACTIONS) {
    router.post(`/api/targets/:id/${action}`, async (req, res) => {
      const result = await applyOperatorAction(deps.targets, req.params.id, action);
      if (result.outcome === 'not_found') throw unknownTarget(req.params.id);
      if (result.outcome === 'not_paused')
        throw new ApiError(
          409,
          'target_not_paused',
          'Seule une cible en pause a des envois retenus à abandonner : mettez-la en pause d’abord.',
        );
      if (result.alertError) deps.logger.warn('alert.enqueue_failed', { action, target: result.record.target, error: result.alertError });
      deps.logger.info('target.operator_action', {
        action,
        target: result.record.target,
        target_id: result.record.id,
        held: result.held,
        changed: result.changed,
      });
      res.json({ success: true, message: ACTION_MESSAGES[action](result.held), target: await describeTarget(store, result.record) });
    });
  }
  return router;
}
