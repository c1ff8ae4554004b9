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

/** `last_at` (optional): the gap the operator saw; a cut recorded since then answers 409 `gap_changed`. */
const acknowledgeBodySchema = z.object({ last_at: z.string().datetime({ offset: true }).optional() });

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
    const body = acknowledgeBodySchema.safeParse(req.body ?? {});
    if (!body.success) throw new ApiError(400, 'invalid_request', 'last_at doit être une date ISO 8601.');
    const address = parsed.data;
    if (!(await mailboxes.get(address))) throw new ApiError(404, 'mailbox_not_found', `Aucune boîte Gmail connectée pour ${address}.`);
    const lastAt = body.data.last_at === undefined ? undefined : Date.parse(body.data.last_at);
    const done = await mailboxes.acknowledgeResyncGap(address, lastAt === undefined ? {} : { lastAt });
    if (done.status === 'changed')
      throw new ApiError(
        409,
        'gap_changed',
        `Une nouvelle resynchronisation incomplète a été enregistrée pour ${address} depuis l’affichage : rechargez et vérifiez-la.`,
      );
    const gap = done.status === 'acknowledged' ? done.gap : undefined;
    deps.logger.info('gmail.resync_gap_acknowledged', {
      mailbox: address,
      acknowledged: gap !== undefined,
      ...(gap ? { not_read_from: iso(gap.from), not_read_to: iso(gap.to), at_least: gap.at_least } : {}),
    });
    res.json({
      success: true,
      acknowledged: gap !== undefined,
      message: gap ? `Alerte acquittée pour ${address}.` : `Aucune alerte de resynchronisation à acquitter pour ${address}.`,
    });
  });
  return router;
}
