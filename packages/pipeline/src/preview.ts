import type { CommonEnv } from '@render-signal/config';
import { resolveDefaultTarget, resolveTimeWindow, type Settings } from '@render-signal/config-store';
import type { DeliveryTarget, PayloadSettings, ProcessEmailJob } from '@render-signal/contracts';
import { buildWebhookPayload, webhookIdFor, type FormatSource } from '@render-signal/delivery';
import { detectEmailType, extractDeliveryLinks, leadingText, type LinkProvider } from '@render-signal/detectors';
import { routeEmail, type ExtractConflict } from '@render-signal/routing';
import { formatFields, type PlanContext } from './plan-email';

/** The plan context of a dry run or a preview (API, CLI): the live settings under the env defaults. */
export function previewPlanContext(
  env: Pick<
    CommonEnv,
    'POLLING_TIMEZONE' | 'WEBHOOK_URL' | 'ALLOW_PRIVATE_NETWORK' | 'WEBHOOKS_TIME_START' | 'WEBHOOKS_TIME_END' | 'FIELD_SCAN_LIMIT_KB'
  >,
  providers: readonly LinkProvider[],
  settings: Settings,
  now: Date,
): PlanContext {
  return {
    settings,
    providers,
    timeZone: env.POLLING_TIMEZONE,
    defaultTarget: resolveDefaultTarget(settings.webhook_config, env),
    timeWindow: resolveTimeWindow(settings.webhook_config, env),
    defaultTimeoutMs: 30_000,
    fieldScanLimit: env.FIELD_SCAN_LIMIT_KB * 1024,
    now,
  };
}

export interface PreviewRequest {
  /** The rule whose target is previewed (its payload settings, `routing_rule`); the default target when absent. */
  ruleId?: string;
  /** The format to preview instead of the target's saved one (the operator is typing it). */
  format?: PayloadSettings;
}

export interface PreviewSource {
  /** What the renderer needs (standard payload, extracted, webhook-id, target, format). */
  source: FormatSource & { payload_format?: PayloadSettings };
  format: PayloadSettings;
  extracted: Record<string, string>;
  extract_conflicts: ExtractConflict[];
  /** The previewed rule matched (and was reached) for this email; always true for the default target. */
  matched: boolean;
}

/**
 * What one target of one email would be sent, for the preview: the same payload, extraction and webhook-id as a
 * delivery, without the skips (the time window, no links) that would stop a real one, since the operator asks for
 * the body whatever today's policy. Pure, like planEmail.
 */
export function previewSource(job: Pick<ProcessEmailJob, 'email' | 'email_id'>, ctx: PlanContext, request: PreviewRequest): PreviewSource {
  const { email } = job;
  const { webhook_config: webhookConfig, routing_rules: rulesDoc } = ctx.settings;
  const scanned = { subject: leadingText(email.subject, ctx.fieldScanLimit), body: leadingText(email.body, ctx.fieldScanLimit) };
  const detection = detectEmailType(scanned, ctx.now, ctx.timeZone);
  const links = extractDeliveryLinks(email.body, ctx.providers);
  const decision = routeEmail({ email, rules: rulesDoc.rules, defaultTarget: ctx.defaultTarget, detection, scanLimit: ctx.fieldScanLimit });
  const rule = request.ruleId === undefined ? undefined : rulesDoc.rules.find((r) => r.id === request.ruleId);
  const url = rule?.actions.webhook_url ?? ctx.defaultTarget ?? 'https://target.invalid/';
  const saved = rule ? rule.actions.payload : webhookConfig.payload;
  const format = request.format ?? saved ?? { format: 'standard' };
  const target: DeliveryTarget = {
    url,
    origin: rule ? `rule:${rule.id}` : 'default',
    mode: webhookConfig.webhook_delivery_mode,
    fallback_on_415: webhookConfig.webhook_fallback_on_415,
    tls_verify: webhookConfig.webhook_ssl_verify,
    require_success_flag: webhookConfig.webhook_require_success_flag,
  };
  const payload = buildWebhookPayload({
    emailId: job.email_id,
    email,
    detection,
    window: {},
    links,
    ...(rule ? { routingRule: { id: rule.id, name: rule.name, priority: rule.actions.priority } } : {}),
  });
  const extracted = decision.extracted;
  return {
    source: {
      payload,
      webhook_id: webhookIdFor(job.email_id, url),
      target,
      ...formatFields({ format, ...(Object.keys(extracted).length > 0 ? { extracted } : {}) }),
    },
    format,
    extracted,
    extract_conflicts: decision.extract_conflicts,
    matched: rule ? decision.matches.some((m) => m.id === rule.id && m.applied) : true,
  };
}
