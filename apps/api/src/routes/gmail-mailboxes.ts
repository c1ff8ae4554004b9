import { Router } from 'express';
import { z } from 'zod';
import { GMAIL_GAP_LIMITS } from '@render-signal/observability';
import type { AppDeps } from '../app-deps';
import { ApiError } from '../http/api-error';

/**
 * The operator's view of the connected Gmail mailboxes (dashboard overview, scripts), behind the
 * operator session (+ CSRF for the POST) like every /api route. Full addresses here, unlike /health.
 * - GET /api/gmail/mailboxes: each mailbox's state and the mail a full resync could not read.
 * - POST /api/gmail/mailboxes/:mailbox/acknowledge-truncation: the operator checked that mail by hand;
 *   the `gmail_resync_truncated` problem goes away until a resync leaves mail unread again.
 */

const mailboxParam = z
  .string()
  .trim()
  .toLowerCase()
  .min(3)
  .max(320)
  .regex(/^[^@\s]+@[^@\s]+$/);

const iso = (ms: number | undefined) => (ms ? new Date(ms).toISOString() : null);

export function gmailMailboxesRouter(deps: Pick<AppDeps, 'logger' | 'gmail'>): Router {
  const router = Router();
  const { mailboxes } = deps.gmail;

  router.get('/api/gmail/mailboxes', async (_req, res) => {
    const list = await mailboxes.list();
    res.json({
      success: true,
      gap_limits: GMAIL_GAP_LIMITS,
      mailboxes: list.map((m) => ({
        address: m.address,
        state: m.state,
        last_error: m.lastError ?? null,
        last_sync_at: iso(m.lastSyncAt),
        resync_gap: m.resyncGap
          ? {
              from: iso(m.resyncGap.from),
              to: iso(m.resyncGap.to),
              at_least: m.resyncGap.at_least,
              reasons: m.resyncGap.reasons,
              first_at: iso(m.resyncGap.first_at),
              last_at: iso(m.resyncGap.last_at),
            }
          : null,
      })),
    });
  });

  router.post('/api/gmail/mailboxes/:mailbox/acknowledge-truncation', async (req, res) => {
    const parsed = mailboxParam.safeParse(req.params.mailbox);
    if (!parsed.success) throw new ApiError(400, 'invalid_mailbox', 'Adresse de boîte Gmail invalide.');
    const address = parsed.data;
    if (!(await mailboxes.get(address))) throw new ApiError(404, 'mailbox_not_found', `Aucune boîte Gmail connectée pour ${address}.`);
    const gap = await mailboxes.acknowledgeResyncGap(address);
    deps.logger.info('gmail.resync_gap_acknowledged', {
      mailbox: address,
      acknowledged: gap !== null,
      ...(gap ? { not_read_from: iso(gap.from), not_read_to: iso(gap.to), at_least: gap.at_least } : {}),
    });
    res.json({
      success: true,
      acknowledged: gap !== null,
      message: gap ? `Alerte acquittée pour ${address}.` : `Aucune alerte de resynchronisation à acquitter pour ${address}.`,
    });
  });
  return router;
}
