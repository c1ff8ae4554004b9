import { TARGET_ID_PATTERN } from '@render-signal/contracts';
import {
  afterOperator,
  transitionAlert,
  type OperatorAction,
  type TargetHealth,
  type TargetHealthView,
  targetHealthView,
} from './target-health';
import type { TargetHealthStore } from './target-health-store';

/** Where a transition's alert is queued (the alert queue's producer, or anything with its `add`). */
export interface AlertQueueLike {
  add(name: 'send', data: ReturnType<typeof transitionAlert>['data'], opts: { jobId: string }): Promise<unknown>;
}

export type OperatorActionResult =
  | { outcome: 'not_found' }
  | { outcome: 'not_paused'; record: TargetHealth }
  | { outcome: 'done'; record: TargetHealth; changed: boolean; held: number; alertError?: string };

/**
 * An operator's pause / resume / release / discard on a target (API and CLI): one atomic transition, its alert queued
 * (a failure to queue it is reported, the action stands). Discard needs a paused target; an unknown id is `not_found`.
 */
export async function applyOperatorAction(
  deps: { store: TargetHealthStore; alerts: AlertQueueLike },
  id: string,
  action: OperatorAction,
  now = Date.now(),
): Promise<OperatorActionResult> {
  const record = TARGET_ID_PATTERN.test(id) ? await deps.store.read(id) : undefined;
  if (!record) return { outcome: 'not_found' };
  let refused = false;
  const written = await deps.store.update(
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
  if (refused) return { outcome: 'not_paused', record };
  const held = await deps.store.heldCount(record.id);
  let alertError: string | undefined;
  if (written?.event) {
    const alert = transitionAlert(written.event, written.record, { held, previous: written.previous });
    await deps.alerts.add('send', alert.data, { jobId: alert.jobId }).catch((error: Error) => (alertError = error.message));
  }
  return { outcome: 'done', record: written?.record ?? record, changed: Boolean(written), held, ...(alertError ? { alertError } : {}) };
}

/** The operator's view of a target: its record with the held count, the oldest held and the success rates. */
export async function describeTarget(store: TargetHealthStore, record: TargetHealth, now = Date.now()): Promise<TargetHealthView> {
  const [held, oldest, counts] = await Promise.all([store.heldCount(record.id), store.oldestHeld(record.id), store.counts(record.id, now)]);
  return targetHealthView(record, { held, oldestHeldAt: oldest?.arrivedAt, counts });
}

const ORDER: Record<TargetHealth['state'], number> = { paused: 0, failing: 1, recovering: 2, healthy: 3 };

/** Every known target, worst first (paused, failing, recovering, healthy; most held first). */
export async function listTargets(store: TargetHealthStore, now = Date.now()): Promise<TargetHealthView[]> {
  const views = await Promise.all((await store.readAll()).map((r) => describeTarget(store, r, now)));
  return views.sort((a, b) => ORDER[a.state] - ORDER[b.state] || b.held - a.held || a.target.localeCompare(b.target));
}
