import { randomBytes } from 'node:crypto';
import { Router, type Request } from 'express';
import { z } from 'zod';
import { deliveryJobData, type DeliverWebhookJob } from '@render-signal/contracts';
import { readSettings, type Settings } from '@render-signal/config-store';
import { EMAIL_STATUSES, foldJourney, parseQueryWords } from '@render-signal/journeys';
import { maskUrl } from '@render-signal/observability';
import { deliveryQueue } from '@render-signal/queue';
import type { AppDeps } from '../app-deps';
import { sentDeliveries } from '../emails/sent-delivery';
import { ApiError } from '../http/api-error';
import { BULL_BOARD_PATH } from './bull-board';
import { previewRenderer, renderForPreview } from './config/payload-preview';

/**
 * The operator's view of emails (dashboard "E-mails" tab, scripts): search, one email's journey, re-deliver
 * with the same webhook-id, cancel pending retries, and the hourly figures. Mounted behind the operator
 * session (+ CSRF for the POSTs) like every /api route.
 */

const DAY_MS = 86_400_000;

/** A date bound: ISO date (`2026-11-30`, the whole day for `until`), ISO date-time, or epoch ms. */
function dateBound(edge: 'start' | 'end') {
  return z
    .string()
    .trim()
    .optional()
    .transform((value, ctx) => {
      if (!value) return undefined;
      if (/^\d{10,14}$/.test(value)) return Number(value);
      const dateOnly = /^\d{4}-\d{2}-\d{2}$/.test(value);
      const ms = Date.parse(dateOnly ? `${value}T00:00:00.000Z` : value);
      if (Number.isNaN(ms)) {
        ctx.addIssue({ code: 'custom', message: 'must be a date (YYYY-MM-DD), an ISO date-time or epoch milliseconds' });
        return z.NEVER;
      }
      return dateOnly && edge === 'end' ? ms + DAY_MS - 1 : ms;
    });
}

const listQuerySchema = z.object({
  query: z.string().max(500).optional(),
  status: z
    .enum(EMAIL_STATUSES, { error: `must be one of ${EMAIL_STATUSES.join(', ')}` })
    .optional()
    .or(z.literal('').transform(() => undefined)),
  detector: z.string().max(100).optional(),
  since: dateBound('start'),
  until: dateBound('end'),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(500).optional(),
});

const emailIdSchema = z.string().regex(/^[A-Za-z0-9_.-]{1,512}$/);
/**
 * `payload`: `kept` (default) sends the body exactly as before; `current` re-renders it with the target's payload
 * settings in force now (a template fixed since), from the same standard payload, extracted values and webhook-id.
 */
const redeliverBodySchema = z
  .object({ webhook_id: z.string().min(1).max(200).optional(), payload: z.enum(['kept', 'current']).default('kept') })
  .strict();
const statsQuerySchema = z.object({
  hours: z.coerce
    .number()
    .int()
    .min(1)
    .max(24 * 90)
    .default(24),
});

function parse<T extends z.ZodType>(schema: T, value: unknown): z.output<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const errors = result.error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message }));
  throw new ApiError(400, 'invalid_request', `${errors[0]?.path || 'request'}: ${errors[0]?.message ?? 'invalid'}`, { errors });
}

function emailIdOf(req: Request): string {
  const id = emailIdSchema.safeParse(req.params.email_id);
  if (!id.success) throw new ApiError(400, 'invalid_email_id', 'email_id invalide.');
  return id.data;
}

/**
 * The payload settings a target has now (`default`: webhook_config.payload; `rule:<id>`: that rule's), for a
 * re-delivery with `payload: current`: undefined for a standard one. A rule deleted since keeps the format it had.
 */
function currentFormat(sent: DeliverWebhookJob, settings: Settings): DeliverWebhookJob['payload_format'] {
  const origin = sent.target.origin;
  const rule = origin.startsWith('rule:') ? settings.routing_rules.rules.find((r) => `rule:${r.id}` === origin) : undefined;
  if (origin !== 'default' && !rule) return sent.payload_format;
  const format = origin === 'default' ? settings.webhook_config.payload : rule!.actions.payload;
  return format && format.format !== 'standard' ? format : undefined;
}

const boardJob = (queue: string, jobId: string) => `${BULL_BOARD_PATH}/queue/${queue}/${encodeURIComponent(jobId)}`;

export function emailsRouter(deps: Pick<AppDeps, 'env' | 'logger' | 'journeys' | 'queues' | 'settings'>): Router {
  const renderer = previewRenderer(deps);
  const router = Router();
  const { store, recorder, deliveryProducer } = deps.journeys;
  const deliveryHandle = () => deps.queues.find((q) => q.name === deliveryQueue.name) ?? deliveryProducer.queue;

  const loadEvents = async (emailId: string) => {
    const stored = await store.events(emailId);
    if (!stored)
      throw new ApiError(404, 'email_not_found', `Aucun parcours pour l’e-mail ${emailId} (inconnu ou plus ancien que la rétention).`);
    return stored;
  };

  router.get('/api/emails', async (req, res) => {
    const q = parse(listQuerySchema, req.query);
    const page = await store.search(
      { words: parseQueryWords(q.query), status: q.status, detector: q.detector || undefined, since: q.since, until: q.until },
      { limit: q.limit, cursor: q.cursor },
    );
    res.json({ success: true, ...page, count: page.emails.length, retention_days: deps.env.JOURNEY_MAX_AGE_DAYS });
  });

  const sent = sentDeliveries(deps);

  router.get('/api/emails/:email_id', async (req, res) => {
    const emailId = emailIdOf(req);
    const { events, invalid } = await loadEvents(emailId);
    const journey = foldJourney(emailId, events);
    // The exact body signed and sent: JSON.stringify of the job's payload, as the delivery serialises it.
    for (const target of journey.targets) {
      const delivery = await sent.of(target, { events, journey });
      if (!delivery) target.payload = null;
      else if (!delivery.payload_format) target.payload = JSON.stringify(delivery.payload);
      else {
        // A flat / template target: the payload rendered as an attempt renders it; a template that fails shows its
        // error where the body would be (what was sent is kept: it can be re-delivered).
        const rendered = await renderForPreview(renderer, delivery.payload_format, delivery);
        target.payload = 'body' in rendered ? rendered.body : `template_error: ${rendered.error.message}`;
      }
    }
    res.json({
      success: true,
      journey,
      invalid_events: invalid,
      bull_board: {
        email_job: journey.received?.job_id ? boardJob('email', journey.received.job_id) : null,
        deliveries: Object.fromEntries(journey.targets.flatMap((t) => t.job_ids.map((id) => [id, boardJob(deliveryQueue.name, id)]))),
        queue: `${BULL_BOARD_PATH}/queue/${deliveryQueue.name}`,
      },
    });
  });

  router.post('/api/emails/:email_id/redeliver', async (req, res) => {
    const emailId = emailIdOf(req);
    const body = parse(redeliverBodySchema, req.body ?? {});
    const { events } = await loadEvents(emailId);
    const journey = foldJourney(emailId, events);
    const targets = journey.targets.filter((t) => t.job_ids.length > 0);
    if (targets.length === 0)
      throw new ApiError(409, 'nothing_to_redeliver', 'Cet e-mail n’a été envoyé à aucune cible : rien à renvoyer.');
    const chosen = body.webhook_id ? targets.filter((t) => t.webhook_id === body.webhook_id) : targets;
    if (chosen.length === 0) throw new ApiError(404, 'unknown_webhook_id', `Aucune cible ${body.webhook_id} pour cet e-mail.`);
    const sources = await Promise.all(chosen.map((t) => sent.of(t, { events, journey })));
    const gone = chosen.filter((_, i) => sources[i] === null).map((t) => t.webhook_id);
    if (gone.length > 0)
      throw new ApiError(
        410,
        'delivery_job_gone',
        `Le job d’envoi (payload et cible) n’est plus conservé pour ${gone.join(', ')} : renvoi impossible.`,
      );
    const now = Date.now();
    const suffix = `${now.toString(36)}${randomBytes(3).toString('hex')}`;
    const current = body.payload === 'current' ? await readSettings(deps.settings) : undefined;
    const jobs = sources.map((source) => {
      const sentBefore = source!;
      return {
        name: 'deliver' as const,
        // From named fields: nothing of the source job's transient state (a pending first_attempt) is carried over.
        data: deliveryJobData({
          email_id: sentBefore.email_id,
          // The operator's request starts this delivery's clock (not the email's arrival days ago).
          accepted_at: now,
          // Same webhook-id, target and payload as every earlier attempt: receivers dedup on the id.
          webhook_id: sentBefore.webhook_id,
          target: sentBefore.target,
          payload: sentBefore.payload,
          // The body's format as it was sent, or the target's current one when asked (a fixed template).
          payload_format: current ? currentFormat(sentBefore, current) : sentBefore.payload_format,
          extracted: sentBefore.extracted,
          subject: sentBefore.subject,
          retry_floor_ms: sentBefore.retry_floor_ms,
          kind: 'email',
        }),
        opts: { jobId: `${sentBefore.webhook_id}.r${suffix}`, priority: 1 },
      };
    });
    await deliveryProducer.addBulk(jobs);
    const deliveries = jobs.map((j) => ({ webhook_id: j.data.webhook_id, job_id: j.opts.jobId }));
    await recorder.append(emailId, { type: 'redelivered', at: now, deliveries });
    deps.logger.info('email.redelivery_requested', { email_id: emailId, deliveries });
    res.status(202).json({
      success: true,
      message: jobs.length === 1 ? 'Renvoi programmé.' : `${jobs.length} renvois programmés.`,
      redelivered: jobs.map((j) => ({ ...deliveries.find((d) => d.job_id === j.opts.jobId), target: maskUrl(j.data.target.url) })),
    });
  });

  router.post('/api/emails/:email_id/cancel', async (req, res) => {
    const emailId = emailIdOf(req);
    const { events } = await loadEvents(emailId);
    const journey = foldJourney(emailId, events);
    const queue = deliveryHandle();
    const cancelled: Array<{ webhook_id: string; job_id: string; state: string }> = [];
    for (const target of journey.targets) {
      for (const jobId of target.job_ids) {
        const job = await queue.getJob(jobId);
        if (!job) continue;
        const state = await job.getState();
        // Only what has not started: a running attempt finishes (and is recorded) on its own.
        if (state !== 'delayed' && state !== 'waiting' && state !== 'prioritized') continue;
        try {
          await job.remove();
          cancelled.push({ webhook_id: target.webhook_id, job_id: jobId, state });
        } catch (error) {
          deps.logger.warn('email.cancel_failed', { email_id: emailId, job_id: jobId, error: (error as Error).message });
        }
      }
    }
    if (cancelled.length > 0) await recorder.append(emailId, { type: 'cancelled', at: Date.now(), jobs: cancelled });
    deps.logger.info('email.retries_cancelled', { email_id: emailId, jobs: cancelled.length });
    res.json({
      success: true,
      message: cancelled.length ? `${cancelled.length} envoi(s) en attente annulé(s).` : 'Aucun envoi en attente pour cet e-mail.',
      cancelled,
    });
  });

  router.get('/api/stats', async (req, res) => {
    const { hours } = parse(statsQuerySchema, req.query);
    const stats = await store.stats(hours);
    res.json({ success: true, ...stats, retention_days: deps.env.JOURNEY_MAX_AGE_DAYS });
  });
  return router;
}
