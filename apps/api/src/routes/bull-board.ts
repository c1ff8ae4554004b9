import { Router } from 'express';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import { maskFields } from '@render-signal/observability';
import { catalogQueue, QUEUE_CATALOG } from '@render-signal/queue';
import type { AppDeps } from '../app-deps';
import { operatorGuard } from '../http/operator-auth';
import { bullBoardContentSecurityPolicy } from '../http/security-headers';

export const BULL_BOARD_PATH = '/admin/queues';

/**
 * Bull Board for every queue of the catalog, behind the operator login. Job data and return values are
 * shown through maskFields (webhook URLs carry Make.com tokens, offload jobs carry signed links).
 * Retrying failed jobs works from the UI; its calls are checked same-origin (it cannot send our CSRF header).
 */
export function bullBoardRouter(deps: AppDeps): Router {
  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath(BULL_BOARD_PATH);
  // The app's own handle per catalog queue (deps.queues, built with deps.redis and QUEUE_PREFIX) when it has one.
  const adapters = QUEUE_CATALOG.map((definition) => {
    let queue = deps.queues?.find((q) => q.name === definition.name);
    // Errors surface in the board's answers (catalogQueue keeps an 'error' event from crashing the process).
    queue ??= catalogQueue({ name: definition.name }, { connection: deps.redis, prefix: deps.env.QUEUE_PREFIX });
    const adapter = new BullMQAdapter(queue, { allowRetries: true, readOnlyMode: false });
    adapter.setFormatter('data', (data: unknown) => maskFields(data));
    adapter.setFormatter('returnValue', (value: unknown) => maskFields(value));
    return adapter;
  });
  createBullBoard({ queues: adapters, serverAdapter, options: { uiConfig: { boardTitle: 'Render Signal' } } });
  const router = Router();
  router.use(BULL_BOARD_PATH, operatorGuard(deps, { csrf: 'same-origin' }), bullBoardContentSecurityPolicy(), serverAdapter.getRouter());
  return router;
}
