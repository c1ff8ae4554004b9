import { Router } from 'express';
import type { Job, Queue } from 'bullmq';
import { z } from 'zod';
import {
  compileTemplate,
  computeEmailId,
  ingressPayloadSchema,
  normalizePayloadSettings,
  processEmailJobSchema,
  type IngressPayload,
  type PayloadSettings,
  type ProcessEmailJob,
} from '@render-signal/contracts';
import { readSettings, type Settings } from '@render-signal/config-store';
import { createPayloadRenderer, TemplateError, type FormatSource, type PayloadRenderer } from '@render-signal/delivery';
import { foldJourney } from '@render-signal/journeys';
import { previewPlanContext, previewSource, type PlanContext } from '@render-signal/pipeline';
import { normalizeRules } from '@render-signal/routing';
import { emailQueue } from '@render-signal/queue';
import type { AppDeps } from '../../app-deps';
import { ApiError } from '../../http/api-error';
import { invalid, ok } from './respond';

/** How many recent emails the preview offers (the newest kept email jobs). */
export const PREVIEW_EMAILS = 20;

/** The plan context of a dry run or a preview: the live settings under the API's env defaults. */
export function planContextFor(deps: Pick<AppDeps, 'env' | 'providers'>, settings: Settings, now: Date): PlanContext {
  return previewPlanContext(deps.env, deps.providers, settings, now);
}

/** The renderer of dry runs and previews: the workers' limits (TEMPLATE_TIMEOUT_MS, WEBHOOK_MAX_BODY_BYTES). */
export function previewRenderer(deps: Pick<AppDeps, 'env'>): PayloadRenderer {
  return createPayloadRenderer({ timeoutMs: deps.env.TEMPLATE_TIMEOUT_MS, maxBodyBytes: deps.env.WEBHOOK_MAX_BODY_BYTES });
}

export type RenderedBody = { body: string; bytes: number } | { error: { message: string; position: number | null } };

/** The exact body a target would get (as a string), or the template's error with its position. */
export async function renderForPreview(renderer: PayloadRenderer, format: PayloadSettings, source: FormatSource): Promise<RenderedBody> {
  try {
    const body = await renderer.render(format, source);
    return { body: body.toString('utf8'), bytes: body.length };
  } catch (error) {
    if (!(error instanceof TemplateError)) throw error;
    return { error: { message: error.message, position: error.position ?? null } };
  }
}

const previewBodySchema = z.object({
  template: z.string().optional(),
  format: z.unknown().optional(),
  email_id: z.string().min(1).max(512).optional(),
  email: z.unknown().optional(),
  rule_id: z.string().min(1).max(200).optional(),
  /** The rule list being edited (not saved yet), as for the dry run. */
  rules: z.unknown().optional(),
});

/**
 * The « Aperçu » of the rule builder and the webhook settings: the body a target would get for one of the last
 * emails received (their kept email jobs) or a pasted email, with the saved or the typed format. Nothing is sent.
 */
export function payloadPreviewRouter(deps: AppDeps): Router {
  const router = Router();
  const renderer = previewRenderer(deps);
  const emailHandle = () => deps.queues.find((q) => q.name === emailQueue.name) as Queue<ProcessEmailJob> | undefined;

  /** The newest kept email jobs (completed or failed), newest first. */
  const recentJobs = async (): Promise<Array<Job<ProcessEmailJob>>> => {
    const queue = emailHandle();
    if (!queue) return [];
    const jobs = (await queue.getJobs(
      ['completed', 'failed', 'active', 'delayed', 'waiting-children'],
      0,
      PREVIEW_EMAILS - 1,
      false,
    )) as Array<Job<ProcessEmailJob> | undefined>;
    return jobs
      .filter((job): job is Job<ProcessEmailJob> => Boolean(job) && processEmailJobSchema.safeParse(job!.data).success)
      .sort((a, b) => b.timestamp - a.timestamp)
      .slice(0, PREVIEW_EMAILS);
  };

  router.get('/api/payload/emails', async (_req, res) => {
    const jobs = await recentJobs();
    ok(res, {
      emails: jobs.map((job) => ({
        email_id: job.data.email_id,
        subject: job.data.email.subject,
        sender: job.data.email.sender,
        received_at: new Date(job.data.accepted_at).toISOString(),
      })),
    });
  });

  /** A received email by id: its journey names its email job, kept a day once completed (30 days when failed). */
  const receivedEmail = async (emailId: string): Promise<IngressPayload> => {
    const stored = await deps.journeys.store.events(emailId);
    const jobId = stored ? foldJourney(emailId, stored.events).received?.job_id : null;
    const job = jobId ? await emailHandle()?.getJob(jobId) : undefined;
    const fromJourney = job ? processEmailJobSchema.safeParse(job.data) : undefined;
    if (fromJourney?.success) return fromJourney.data.email;
    const recent = (await recentJobs()).find((j) => j.data.email_id === emailId);
    if (recent) return recent.data.email;
    throw new ApiError(404, 'email_not_kept', `L’e-mail ${emailId} n’est plus conservé : collez son contenu à la place.`);
  };

  router.post('/api/payload/preview', async (req, res) => {
    const parsed = previewBodySchema.safeParse(req.body ?? {});
    if (!parsed.success) throw invalid(parsed.error.issues[0]?.message ?? 'invalid request');
    const body = parsed.data;
    let email: IngressPayload;
    if (body.email_id) email = await receivedEmail(body.email_id);
    else {
      const pasted = ingressPayloadSchema.safeParse(body.email);
      if (!pasted.success) {
        const errors = pasted.error.issues.map((i) => ({ path: `email.${i.path.join('.')}`, message: i.message }));
        throw invalid(body.email === undefined ? 'email_id ou email requis.' : (errors[0]?.message ?? 'email invalide'), errors);
      }
      email = pasted.data;
    }
    let format: PayloadSettings | undefined;
    const typed = body.format as { format?: unknown; template?: unknown } | undefined;
    if (body.template === undefined && typed?.format === 'template' && typeof typed.template === 'string') body.template = typed.template;
    if (body.template !== undefined) {
      // A template being typed: a syntax error is an answer (with its position), not a refused request.
      const checked = compileTemplate(body.template);
      if (!checked.ok) {
        ok(res, { error: { message: checked.message, position: checked.position, code: checked.code } });
        return;
      }
      format = { format: 'template', template: body.template };
    } else if (body.format !== undefined) {
      const normalized = normalizePayloadSettings(typeof body.format === 'string' ? { format: body.format } : body.format, 'format');
      if (!normalized.ok) throw invalid(normalized.issues[0]!.message, normalized.issues);
      format = normalized.value;
    }
    const settings = await readSettings(deps.settings);
    if (body.rules !== undefined) {
      // Never saved nor sent: masked URLs and placeholders are fine here.
      const normalized = normalizeRules(body.rules, { refusePlaceholderUrls: false, allowPrivateNetwork: true });
      if (!normalized.ok) throw invalid(normalized.message, normalized.errors);
      settings.routing_rules = { ...settings.routing_rules, rules: normalized.rules };
    }
    if (body.rule_id && !settings.routing_rules.rules.some((r) => r.id === body.rule_id)) {
      throw new ApiError(404, 'unknown_rule', `Aucune règle ${body.rule_id} enregistrée.`);
    }
    const preview = previewSource({ email, email_id: computeEmailId(email) }, planContextFor(deps, settings, new Date()), {
      ...(body.rule_id ? { ruleId: body.rule_id } : {}),
      ...(format ? { format } : {}),
    });
    ok(res, {
      format: preview.format.format,
      ...(await renderForPreview(renderer, preview.format, preview.source)),
      extracted: preview.extracted,
      extract_conflicts: preview.extract_conflicts,
      matched: preview.matched,
    });
  });
  return router;
}
