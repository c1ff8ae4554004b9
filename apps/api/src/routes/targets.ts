import { Router, type Request } from 'express';
import {
  afterOperator,
  OPERATOR_ACTIONS,
  targetHealthView,
  transitionAlert,
  type OperatorAction,
  type TargetHealth,
  type TargetHealthView,
} from '@render-signal/delivery';
import type { AppDeps } from '../app-deps';
import { ApiError } from '../http/api-error';

/** The operator's view of a target: its record with the held count, the oldest held and the success rates. */
export async function describeTarget(deps: Pick<AppDeps, 'targets'>, record: TargetHealth, now = Date.now()): Promise<TargetHealthView> {
  const { store } = deps.targets;
  const [held, oldest, counts] = await Promise.all([store.heldCount(record.id), store.oldestHeld(record.id), store.counts(record.id, now)]);
  return targetHealthView(record, { held, oldestHeldAt: oldest?.arrivedAt, counts });
}

const ORDER: Record<TargetHealth['state'], number> = { paused: 0, failing: 1, recovering: 2, healthy: 3 };

const ACTION_MESSAGES: Record<OperatorAction, (held: number) => string> = {
  pause: (held) => `Cible mise en pause : ses envois sont retenus (${held} pour l'instant) jusqu'à la reprise.`,
  resume: (held) => `Cible reprise : ${held} envoi(s) retenu(s) partent, les plus anciens d'abord.`,
  release: (held) => `Libération lancée : ${held} envoi(s) retenu(s) partent, les plus anciens d'abord.`,
  discard: (held) =>
    `${held} envoi(s) retenu(s) abandonné(s) : ils passent en lettre morte (discarded_by_operator) et peuvent être renvoyés.`,
};

/**
 * Destination health for operators (session + CSRF, under /api like every operator route):
 * - `GET /api/targets`: every known target (one that received an attempt, or was paused), worst first;
 * - `POST /api/targets/:id/pause | resume | release | discard`: the operator's actions, each one atomic
 *   transition (with its alert); `discard` needs a paused target (409 `target_not_paused`). Unknown id: 404.
 */
export function targetsRouter(deps: Pick<AppDeps, 'targets' | 'logger'>): Router {
  const router = Router();
  const { store, alerts } = deps.targets;
  const known = async (req: Request): Promise<TargetHealth> => {
    const id = String(req.params.id ?? '');
    const record = /^[0-9a-f]{16}$/.test(id) ? await store.read(id) : undefined;
    if (!record) throw new ApiError(404, 'target_not_found', `Cible inconnue : ${id.slice(0, 40)}`);
    return record;
  };

  router.get('/api/targets', async (_req, res) => {
    const now = Date.now();
    const records = await store.readAll();
    const targets = await Promise.all(records.map((r) => describeTarget(deps, r, now)));
    targets.sort((a, b) => ORDER[a.state] - ORDER[b.state] || b.held - a.held || a.target.localeCompare(b.target));
    res.json({ success: true, targets });
  });

  router.get('/api/targets/:id', async (req, res) => {
    res.json({ success: true, target: await describeTarget(deps, await known(req)) });
  });

  for (const action of OPERATOR_ACTIONS) {
    router.post(`/api/targets/:id/${action}`, async (req, res) => {
      const record = await known(req);
      const now = Date.now();
      let refused = false;
      const written = await store.update(
        record.id,
        record.target,
        (current) => {
          const next = afterOperator(current, action, now);
          if ('refused' in next) {
            refused = true;
            return undefined;
          }
          return next.record === current ? undefined : next;
        },
        now,
      );
      if (refused)
        throw new ApiError(
          409,
          'target_not_paused',
          'Seule une cible en pause a des envois retenus à abandonner : mettez-la en pause d’abord.',
        );
      const held = await store.heldCount(record.id);
      if (written?.event) {
        const alert = transitionAlert(written.event, written.record, { held, previous: written.previous });
        await alerts
          .add('send', alert.data, { jobId: alert.jobId })
          .catch((error: Error) =>
            deps.logger.warn('alert.enqueue_failed', { event: written.event, target: record.target, error: error.message }),
          );
      }
      deps.logger.info('target.operator_action', { action, target: record.target, target_id: record.id, held, changed: Boolean(written) });
      const view = await describeTarget(deps, written?.record ?? record, now);
      res.json({ success: true, message: ACTION_MESSAGES[action](held), target: view });
    });
  }
  return router;
}
