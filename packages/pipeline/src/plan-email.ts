import type { DeliveryTarget, PayloadSettings, ProcessEmailJob } from '@render-signal/contracts';
import { parseSenderAddress } from '@render-signal/contracts';
import type { Settings } from '@render-signal/config-store';
import { buildWebhookPayload, webhookIdFor, type PayloadDeliveryLink } from '@render-signal/delivery';
import {
  detectEmailType,
  extractDeliveryLinks,
  normalizeForKeywordMatch,
  leadingText,
  type Detection,
  type LinkProvider,
} from '@render-signal/detectors';
import { decideWindowOutcome, routeEmail, type RouteTarget, type RoutingDecision, type WindowReason } from '@render-signal/routing';

/**
 * detect → window → links → route: what one email becomes, decided from the email, the settings
 * snapshot and the clock. Pure (no I/O), so every branch is table-tested; the processor does the I/O.
 */

export type SkipReason = 'excluded_keyword' | 'too_large' | 'no_attachments' | 'outside_time_window' | 'no_delivery_links' | 'no_target';

export interface EmailSkip {
  reason: SkipReason;
  detail?: string;
  /** False when the original left the email unmarked: a later re-send is processed again. */
  markProcessed: boolean;
  /** Skips the original wrote to the webhook log (no-link policy) and failures operators must see (no target). */
  webhookLog?: { status: 'skipped' | 'error'; status_code: number | null; error_message: string; failure_reason?: string };
}

export interface PlannedTarget {
  route: RouteTarget;
  target: DeliveryTarget;
  /** BullMQ priority: lower is sooner (1 high, 5 normal, 10 low). */
  priority: number;
}

export interface EmailRoute {
  detection: Detection;
  window: { webhooks_time_start?: string; webhooks_time_end?: string };
  /** The time-window verdict that let the email go (shown in its journey). */
  windowVerdict?: WindowReason;
  links: PayloadDeliveryLink[];
  targets: PlannedTarget[];
  /** What the applied rules extracted (the first applied rule wins a name); absent when nothing was. */
  extracted?: Record<string, string>;
  /** Each rule's result (shown by the dry run; not needed to deliver). */
  routing?: Pick<RoutingDecision, 'matches' | 'stopped_by' | 'extract_conflicts'>;
}

export type EmailPlan = ({ skip: EmailSkip } & Partial<EmailRoute> & { detection: Detection }) | ({ skip?: undefined } & EmailRoute);

export interface PlanContext {
  settings: Settings;
  providers: readonly LinkProvider[];
  timeZone: string;
  defaultTarget: string | null;
  timeWindow: { start?: string; end?: string };
  /** Per-attempt timeout when processing_prefs does not set one (ms). */
  defaultTimeoutMs: number;
  /**
   * FIELD_SCAN_LIMIT_KB in characters: detectors, exclusion keywords and routing rules read at most this much of each
   * field (subject, body…); links are still extracted from the whole body.
   */
  fieldScanLimit: number;
  /** Runs one matching step, e.g. to time it (the worker's metrics); runs it as is when absent. */
  measure?: <T>(step: MatchStep, run: () => T) => T;
  now: Date;
}

/** The CPU-bound steps of a plan whose duration the worker reports. */
export type MatchStep = 'detectors' | 'rules';

export const DELIVERY_PRIORITY = { high: 1, normal: 5, medium: 5, low: 10 } as const;

function excludedBy(keywords: readonly string[] | undefined, text: string): string | undefined {
  return keywords?.find((keyword) => keyword && text.includes(normalizeForKeywordMatch(keyword)));
}

export function planEmail(job: Pick<ProcessEmailJob, 'email' | 'email_id'>, ctx: PlanContext): EmailPlan {
  const { email } = job;
  const { processing_prefs: prefs, webhook_config: webhookConfig, runtime_flags: flags, routing_rules: rulesDoc } = ctx.settings;
  const measure = ctx.measure ?? (<T>(_step: MatchStep, run: () => T) => run());
  const scanned = { subject: leadingText(email.subject, ctx.fieldScanLimit), body: leadingText(email.body, ctx.fieldScanLimit) };
  const detection = measure('detectors', () => detectEmailType(scanned, ctx.now, ctx.timeZone));

  if (prefs.max_email_size_mb !== null && Buffer.byteLength(email.body, 'utf8') > prefs.max_email_size_mb * 1024 * 1024) {
    return { detection, skip: { reason: 'too_large', detail: `body over ${prefs.max_email_size_mb} MB`, markProcessed: true } };
  }
  const detectorList =
    detection.detector === 'recadrage'
      ? prefs.exclude_keywords_recadrage
      : detection.detector === 'desabonnement_journee_tarifs'
        ? prefs.exclude_keywords_autorepondeur
        : undefined;
  const keyword = measure('detectors', () => {
    const text = normalizeForKeywordMatch(`${scanned.subject}\n${scanned.body}`);
    return excludedBy(prefs.exclude_keywords, text) ?? excludedBy(detectorList, text);
  });
  if (keyword) return { detection, skip: { reason: 'excluded_keyword', detail: keyword, markProcessed: true } };

  const window = decideWindowOutcome(detection, ctx.timeWindow, ctx.now, ctx.timeZone);
  if (!window.send) {
    return { detection, skip: { reason: 'outside_time_window', detail: window.reason, markProcessed: window.markProcessed } };
  }
  const windowFields = {
    ...(window.webhooks_time_start !== undefined ? { webhooks_time_start: window.webhooks_time_start } : {}),
    ...(window.webhooks_time_end !== undefined ? { webhooks_time_end: window.webhooks_time_end } : {}),
  };

  const links = extractDeliveryLinks(email.body, ctx.providers);
  if (links.length === 0 && prefs.require_attachments) {
    return { detection, skip: { reason: 'no_attachments', markProcessed: true } };
  }
  if (links.length === 0 && !flags.allow_custom_webhook_without_links) {
    return {
      detection,
      skip: {
        reason: 'no_delivery_links',
        markProcessed: true,
        webhookLog: { status: 'skipped', status_code: 204, error_message: 'No delivery links detected; skipping per config' },
      },
    };
  }

  const decision = measure('rules', () =>
    routeEmail({
      email,
      rules: rulesDoc.rules,
      defaultTarget: ctx.defaultTarget,
      detection,
      scanLimit: ctx.fieldScanLimit,
      ...(webhookConfig.payload ? { defaultPayload: webhookConfig.payload } : {}),
    }),
  );
  if (decision.targets.length === 0) {
    return {
      detection,
      routing: { matches: decision.matches, stopped_by: decision.stopped_by, extract_conflicts: decision.extract_conflicts },
      skip: {
        reason: 'no_target',
        markProcessed: false,
        webhookLog: { status: 'error', status_code: null, error_message: 'No webhook target configured', failure_reason: 'no_target' },
      },
    };
  }
  const senderLevel = prefs.sender_priority[parseSenderAddress(email.sender)];
  const targets = decision.targets.map((route): PlannedTarget => {
    const levels = [route.priority, senderLevel].filter(Boolean) as Array<keyof typeof DELIVERY_PRIORITY>;
    const priority = Math.min(...levels.map((level) => DELIVERY_PRIORITY[level]), DELIVERY_PRIORITY.normal);
    return {
      route,
      priority,
      target: {
        url: route.url,
        origin: route.origin,
        mode: webhookConfig.webhook_delivery_mode,
        fallback_on_415: webhookConfig.webhook_fallback_on_415,
        tls_verify: webhookConfig.webhook_ssl_verify,
        require_success_flag: webhookConfig.webhook_require_success_flag,
        timeout_ms: prefs.webhook_timeout_sec ? prefs.webhook_timeout_sec * 1000 : ctx.defaultTimeoutMs,
      },
    };
  });
  return {
    detection,
    window: windowFields,
    windowVerdict: window.reason,
    links,
    targets,
    ...(Object.keys(decision.extracted).length > 0 ? { extracted: decision.extracted } : {}),
    routing: { matches: decision.matches, stopped_by: decision.stopped_by, extract_conflicts: decision.extract_conflicts },
  };
}

export interface PlannedDelivery {
  webhookId: string;
  target: DeliveryTarget;
  /** The standard body (what is sent unless `format` says otherwise). */
  payload: Record<string, unknown>;
  /** The target's body when not standard (flat, template): rendered from `payload` at each attempt. */
  format?: PayloadSettings;
  /** What the rules extracted (flat's `extracted_<name>`, a template's `extracted`). */
  extracted?: Record<string, string>;
  priority: number;
}

/** The delivery job fields that carry a non-standard body: none for a standard target (its job data as before). */
export function formatFields(delivery: Pick<PlannedDelivery, 'format' | 'extracted'>): {
  payload_format?: PayloadSettings;
  extracted?: Record<string, string>;
} {
  return {
    ...(delivery.format ? { payload_format: delivery.format } : {}),
    ...(delivery.extracted ? { extracted: delivery.extracted } : {}),
  };
}

/** One payload per target (the rule that chose the target is named in it), from the final links. */
export function buildDeliveries(
  job: Pick<ProcessEmailJob, 'email' | 'email_id'>,
  route: EmailRoute,
  links: readonly PayloadDeliveryLink[],
): PlannedDelivery[] {
  return route.targets.map(({ route: r, target, priority }) => ({
    webhookId: webhookIdFor(job.email_id, target.url),
    target,
    priority,
    ...(r.payload && r.payload.format !== 'standard' ? { format: r.payload } : {}),
    ...(route.extracted ? { extracted: route.extracted } : {}),
    payload: buildWebhookPayload({
      emailId: job.email_id,
      email: job.email,
      detection: route.detection,
      window: route.window,
      links,
      ...(r.rule ? { routingRule: r.rule } : {}),
    }),
  }));
}
