import { z } from 'zod';
import { parseClock } from './clock-text';
import { normalizePayloadSettings, type PayloadSettings } from './payload-settings';
import { pythonInt, pythonStr, pythonTruthy } from './python-coercion';
import { isLoopbackPlaceholderUrl, isPlaceholderUrl, normalizeMakeWebhookUrl } from './webhook-url';

/**
 * The stored config documents (`webhook_config`, `processing_prefs`, `runtime_flags`) with the original's fields,
 * defaults, bounds and messages (docs/original-behaviour.md, "Dashboard endpoints" and "Config documents"), plus the partial-update
 * schemas the dashboard endpoints
 * accept. Every stored document carries `_updated_at` (ISO) and `_revision` (optimistic concurrency).
 * Env values are defaults under the stored documents: merge them under the stored object before parsing.
 */

export { parseClock } from './clock-text';
export { pythonInt, pythonStr, pythonTruthy } from './python-coercion';
export { isLoopbackPlaceholderUrl, isPlaceholderUrl, normalizeMakeWebhookUrl, PLACEHOLDER_HOSTS, MAKE_WEBHOOK_HOST } from './webhook-url';

export const WEEKDAY_NAMES = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'] as const;
export type WeekdayName = (typeof WEEKDAY_NAMES)[number];

export const DELIVERY_MODES = ['json', 'form'] as const;
export type DeliveryMode = (typeof DELIVERY_MODES)[number];

export const SENDER_PRIORITY_LEVELS = ['high', 'medium', 'low'] as const;

/** What a stored document carries besides its fields. */
const documentMeta = {
  _updated_at: z.iso.datetime({ offset: true }).nullable().default(null),
  _revision: z.number().int().min(0).default(0),
};

export type UpdateResult<T> = { ok: true; value: T } | { ok: false; message: string; errors: ConfigError[] };
export interface ConfigError {
  path: string;
  message: string;
  /** Set for our own checks (e.g. `template_syntax`), with the template position where there is one. */
  code?: string;
  position?: number;
}

function toErrors(error: z.ZodError): ConfigError[] {
  return error.issues.map((issue) => {
    const params = (issue as { params?: { code?: string; position?: number } }).params;
    return {
      path: issue.path.join('.'),
      message: issue.message,
      ...(params?.code ? { code: params.code } : {}),
      ...(params?.position !== undefined ? { position: params.position } : {}),
    };
  });
}

function failure<T>(error: z.ZodError): UpdateResult<T> {
  const errors = toErrors(error);
  return { ok: false, message: errors[0]?.message ?? 'Invalid configuration', errors };
}

type Coercion<T> = { ok: true; value: T } | { ok: false; message: string };

/** A field coerced by a function that may refuse the value with a message. */
function coerced<T>(coerce: (value: unknown) => Coercion<T>) {
  return z.unknown().transform((value, ctx): T => {
    const result = coerce(value);
    if (result.ok) return result.value;
    ctx.addIssue({ code: 'custom', message: result.message, input: value });
    return z.NEVER;
  });
}

/** Python `bool(x)`, the original's coercion for every toggle. */
const pythonBool = () => coerced((value) => ({ ok: true, value: pythonTruthy(value) }));

// ---------------------------------------------------------------------------------------------------------------
// webhook_config

export interface WebhookUrlPolicy {
  /** ALLOW_PRIVATE_NETWORK: http:// and localhost / 127.0.0.1 targets are accepted (local sinks, tests). */
  allowPrivateNetwork: boolean;
}

const STRICT_URL_POLICY: WebhookUrlPolicy = { allowPrivateNetwork: false };

/**
 * A webhook target as an operator saves it: Make.com shorthands expanded, HTTPS required, placeholders refused.
 * Empty → null (cleared).
 */
export function checkWebhookUrl(value: unknown, field: string, policy: WebhookUrlPolicy): Coercion<string | null> {
  if (!pythonTruthy(value)) return { ok: true, value: null };
  const invalid = { ok: false as const, message: `${field} doit être une URL HTTPS valide.` };
  if (typeof value !== 'string') return invalid;
  const url = normalizeMakeWebhookUrl(value) ?? value.trim();
  if (!url) return { ok: true, value: null };
  const schemeOk = url.startsWith('https://') || (policy.allowPrivateNetwork && url.startsWith('http://'));
  if (!schemeOk || !URL.canParse(url)) return invalid;
  if (isPlaceholderUrl(url) && !(policy.allowPrivateNetwork && isLoopbackPlaceholderUrl(url))) {
    return { ok: false, message: `${field} ne peut pas être une URL placeholder (ex: example.com).` };
  }
  return { ok: true, value: url };
}

const webhookUrlField = (field: string, policy: WebhookUrlPolicy) => coerced((value) => checkWebhookUrl(value, field, policy));

/** `payload` ({format, template?}), checked as when saved (template size, syntax): absent means standard. */
const payloadField = () =>
  z.unknown().transform((value, ctx): PayloadSettings | undefined => {
    const result = normalizePayloadSettings(value, 'payload');
    if (result.ok) return result.value;
    for (const issue of result.issues) {
      ctx.addIssue({
        code: 'custom',
        message: issue.message,
        path: issue.path.split('.').slice(1),
        params: { code: issue.code, position: issue.position },
        input: value,
      });
    }
    return z.NEVER;
  });

/** Alert recipients: comma-separated addresses (empty: the env's ALERT_EMAIL_TO, or no email alerts). */
const emailListField = () =>
  coerced((value): Coercion<string> => {
    if (value === null || value === undefined) return { ok: true, value: '' };
    if (typeof value !== 'string')
      return { ok: false, message: 'alert_email_to doit être une liste d’adresses séparées par des virgules.' };
    const list = value
      .split(',')
      .map((a) => a.trim())
      .filter(Boolean);
    const bad = list.find((a) => !/^[^\s@<>,]+@[^\s@<>,]+\.[^\s@<>,]+$/.test(a));
    if (bad) return { ok: false, message: `alert_email_to : adresse invalide « ${bad.slice(0, 80)} ».` };
    return { ok: true, value: list.join(', ') };
  });

const MESSAGES = {
  bothTimesRequired: 'Both webhook_time_start and webhook_time_end are required (or both empty to clear).',
  invalidTime: 'Invalid time format. Use HHhMM or HH:MM (e.g., 11h30, 17:45).',
  daysNotList: 'absence_pause_days doit être une liste.',
  noAbsenceDay: 'Au moins un jour doit être sélectionné pour activer la pause absence.',
  deliveryMode: "webhook_delivery_mode doit être 'json' ou 'form'.",
} as const;

/** The window is either cleared (both empty) or two valid times; shared by the document and the update. */
function checkTimeWindow(start: string, end: string, ctx: z.RefinementCtx): void {
  if (start === '' && end === '') return;
  if (!start || !end) {
    ctx.addIssue({ code: 'custom', message: MESSAGES.bothTimesRequired, path: [start ? 'webhook_time_end' : 'webhook_time_start'] });
  } else if (parseClock(start) === null || parseClock(end) === null) {
    ctx.addIssue({
      code: 'custom',
      message: MESSAGES.invalidTime,
      path: [parseClock(start) === null ? 'webhook_time_start' : 'webhook_time_end'],
    });
  }
}

const clockTextField = () => z.preprocess((value) => value ?? '', z.string().trim());

/** The stored `webhook_config` document (the whole document is validated on every write). */
export function createWebhookConfigSchema(policy: WebhookUrlPolicy = STRICT_URL_POLICY) {
  return z
    .object({
      webhook_url: webhookUrlField('webhook_url', policy).default(null),
      webhook_ssl_verify: z.boolean().default(true),
      webhook_sending_enabled: z.boolean().default(true),
      webhook_delivery_mode: z.enum(DELIVERY_MODES, { error: MESSAGES.deliveryMode }).default('json'),
      webhook_fallback_on_415: z.boolean().default(true),
      /** Ours: the original's strict success check (200 + JSON `success: true`) for the default target. */
      webhook_require_success_flag: z.boolean().default(false),
      webhook_time_start: clockTextField().default(''),
      webhook_time_end: clockTextField().default(''),
      absence_pause_enabled: z.boolean().default(false),
      absence_pause_days: z.array(z.enum(WEEKDAY_NAMES, { error: 'Jours invalides' })).default([]),
      /** Ours: where a failure event is POSTed when a delivery exhausts its retries and notify_on_failure is on. */
      failure_webhook_url: webhookUrlField('failure_webhook_url', policy).default(null),
      /** Ours: the default target's body (absent: standard). */
      payload: payloadField().optional(),
      /** Ours: destination-health alerts are POSTed here (over the env's ALERT_WEBHOOK_URL). */
      alert_webhook_url: webhookUrlField('alert_webhook_url', policy).default(null),
      /** Ours: alert emails go to these addresses (over the env's ALERT_EMAIL_TO; SMTP_URL stays in the env). */
      alert_email_to: emailListField().default(''),
      ...documentMeta,
    })
    .superRefine((config, ctx) => {
      checkTimeWindow(config.webhook_time_start, config.webhook_time_end, ctx);
      if (config.absence_pause_enabled && config.absence_pause_days.length === 0) {
        ctx.addIssue({ code: 'custom', message: MESSAGES.noAbsenceDay, path: ['absence_pause_days'] });
      }
    });
}

export const webhookConfigSchema = createWebhookConfigSchema();
export type WebhookConfig = z.output<typeof webhookConfigSchema>;
export const DEFAULT_WEBHOOK_CONFIG: WebhookConfig = webhookConfigSchema.parse({});

function absenceDays(value: unknown): Coercion<WeekdayName[]> {
  if (!Array.isArray(value)) return { ok: false, message: MESSAGES.daysNotList };
  // Non-string items are dropped, as in the original.
  const days = value.filter((day): day is string => typeof day === 'string').map((day) => day.trim().toLowerCase());
  const invalid = days.filter((day) => !(WEEKDAY_NAMES as readonly string[]).includes(day));
  if (invalid.length > 0) return { ok: false, message: `Jours invalides: ${invalid.join(', ')}` };
  return { ok: true, value: [...new Set(days)] as WeekdayName[] };
}

/** A time bound in an update: the original takes `str(value).strip()`; null means empty. */
const clockUpdateField = () => coerced((value) => ({ ok: true, value: value === null ? '' : pythonStr(value).trim() }));

/**
 * The body of `POST /api/webhooks/config`: a partial update. Only these keys are read (unknown and obsolete keys are
 * ignored); toggles use Python truthiness, as in the original.
 */
export function createWebhookConfigUpdateSchema(policy: WebhookUrlPolicy = STRICT_URL_POLICY) {
  return z
    .object({
      webhook_url: webhookUrlField('webhook_url', policy).optional(),
      webhook_ssl_verify: pythonBool().optional(),
      webhook_sending_enabled: pythonBool().optional(),
      webhook_delivery_mode: coerced((value): Coercion<DeliveryMode> => {
        const mode = pythonStr(value).trim().toLowerCase();
        return (DELIVERY_MODES as readonly string[]).includes(mode)
          ? { ok: true, value: mode as DeliveryMode }
          : { ok: false, message: MESSAGES.deliveryMode };
      }).optional(),
      webhook_fallback_on_415: pythonBool().optional(),
      webhook_require_success_flag: pythonBool().optional(),
      absence_pause_enabled: pythonBool().optional(),
      absence_pause_days: coerced(absenceDays).optional(),
      webhook_time_start: clockUpdateField().optional(),
      webhook_time_end: clockUpdateField().optional(),
      failure_webhook_url: webhookUrlField('failure_webhook_url', policy).optional(),
      payload: payloadField().optional(),
      alert_webhook_url: webhookUrlField('alert_webhook_url', policy).optional(),
      alert_email_to: emailListField().optional(),
    })
    .superRefine((update, ctx) => {
      // Either bound in the body means "set the window": both must come together (or both empty to clear).
      if (update.webhook_time_start !== undefined || update.webhook_time_end !== undefined) {
        checkTimeWindow(update.webhook_time_start ?? '', update.webhook_time_end ?? '', ctx);
      }
    });
}

export const webhookConfigUpdateSchema = createWebhookConfigUpdateSchema();
export type WebhookConfigUpdate = z.output<typeof webhookConfigUpdateSchema>;

/**
 * Applies a `POST /api/webhooks/config` body to the current document and validates the result as a whole
 * (e.g. enabling the absence pause needs days, counting the stored ones). `_updated_at`/`_revision` are left to the store.
 */
export function applyWebhookConfigUpdate(
  current: WebhookConfig,
  body: unknown,
  policy: WebhookUrlPolicy = STRICT_URL_POLICY,
): UpdateResult<WebhookConfig> {
  const update = createWebhookConfigUpdateSchema(policy).safeParse(body ?? {});
  if (!update.success) return failure(update.error);
  const merged = { ...current, ...stripUndefined(update.data) };
  const checked = createWebhookConfigSchema(policy).safeParse(merged);
  return checked.success ? { ok: true, value: checked.data } : failure(checked.error);
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, item]) => item !== undefined)) as Partial<T>;
}

// ---------------------------------------------------------------------------------------------------------------
// processing_prefs

const keywordList = z.array(z.string().trim()).transform((words) => words.filter(Boolean));

function boundedInt(field: string, min: number, max: number) {
  return z.number().int().min(min, `${field} hors limites (${min}..${max})`).max(max, `${field} hors limites (${min}..${max})`);
}

/** The stored `processing_prefs` document. */
export const processingPrefsSchema = z.object({
  exclude_keywords: keywordList.default([]),
  /** Per-detector lists: recadrage, and the original's "autorepondeur" list, which applies to DESABO. */
  exclude_keywords_recadrage: keywordList.optional(),
  exclude_keywords_autorepondeur: keywordList.optional(),
  require_attachments: z.boolean().default(false),
  max_email_size_mb: z.number().int().positive('max_email_size_mb doit être > 0 ou null').nullable().default(null),
  sender_priority: z.record(z.string(), z.enum(SENDER_PRIORITY_LEVELS)).default({}),
  retry_count: boundedInt('retry_count', 0, 10).default(0),
  retry_delay_sec: boundedInt('retry_delay_sec', 0, 600).default(2),
  webhook_timeout_sec: boundedInt('webhook_timeout_sec', 1, 300).default(30),
  /** 0 = unlimited. The original defaulted to 5 but never enforced it; enforcing 5/h would throttle production. */
  rate_limit_per_hour: boundedInt('rate_limit_per_hour', 0, 100_000).default(0),
  notify_on_failure: z.boolean().default(false),
  mirror_media_to_custom: z.boolean().default(true),
  ...documentMeta,
});
export type ProcessingPrefs = z.output<typeof processingPrefsSchema>;
export const DEFAULT_PROCESSING_PREFS: ProcessingPrefs = processingPrefsSchema.parse({});

function stringList(field: string) {
  return coerced((value): Coercion<string[]> => {
    if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) {
      return { ok: false, message: `${field} doit être une liste de chaînes` };
    }
    return { ok: true, value: value.map((item: string) => item.trim()).filter(Boolean) };
  });
}

/** Python `int(x)` then a range check, with the original's messages. */
function pythonBoundedInt(field: string, min: number, max: number) {
  return coerced((value): Coercion<number> => {
    const parsed = pythonInt(value);
    if (!parsed.ok) return { ok: false, message: `Validation error: ${parsed.message}` };
    if (parsed.value < min || parsed.value > max) return { ok: false, message: `${field} hors limites (${min}..${max})` };
    return parsed;
  });
}

function senderPriority(value: unknown): Coercion<Record<string, (typeof SENDER_PRIORITY_LEVELS)[number]>> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return { ok: false, message: 'sender_priority doit être un objet {email: niveau}' };
  }
  const out: Record<string, (typeof SENDER_PRIORITY_LEVELS)[number]> = {};
  for (const [sender, level] of Object.entries(value)) {
    if (typeof level !== 'string') return { ok: false, message: 'sender_priority: clés et valeurs doivent être des chaînes' };
    const normalised = level.trim().toLowerCase();
    if (!(SENDER_PRIORITY_LEVELS as readonly string[]).includes(normalised)) {
      return { ok: false, message: 'sender_priority: niveau invalide (high|medium|low)' };
    }
    out[sender.trim().toLowerCase()] = normalised as (typeof SENDER_PRIORITY_LEVELS)[number];
  }
  return { ok: true, value: out };
}

/** The body of `POST /api/processing_prefs`: a partial update with the original's coercions and messages. */
export const processingPrefsUpdateSchema = z.object({
  exclude_keywords_recadrage: stringList('exclude_keywords_recadrage').optional(),
  exclude_keywords_autorepondeur: stringList('exclude_keywords_autorepondeur').optional(),
  exclude_keywords: stringList('exclude_keywords').optional(),
  require_attachments: pythonBool().optional(),
  max_email_size_mb: coerced((value): Coercion<number | null> => {
    if (value === null) return { ok: true, value: null };
    const parsed = pythonInt(value);
    if (!parsed.ok) return { ok: false, message: `Validation error: ${parsed.message}` };
    return parsed.value <= 0 ? { ok: false, message: 'max_email_size_mb doit être > 0 ou null' } : parsed;
  }).optional(),
  sender_priority: coerced(senderPriority).optional(),
  retry_count: pythonBoundedInt('retry_count', 0, 10).optional(),
  retry_delay_sec: pythonBoundedInt('retry_delay_sec', 0, 600).optional(),
  webhook_timeout_sec: pythonBoundedInt('webhook_timeout_sec', 1, 300).optional(),
  rate_limit_per_hour: pythonBoundedInt('rate_limit_per_hour', 0, 100_000).optional(),
  notify_on_failure: pythonBool().optional(),
  mirror_media_to_custom: pythonBool().optional(),
});
export type ProcessingPrefsUpdate = z.output<typeof processingPrefsUpdateSchema>;

/** Defaults ← current ← validated update: the saved document always has every key (as in the original). */
export function applyProcessingPrefsUpdate(current: ProcessingPrefs, body: unknown): UpdateResult<ProcessingPrefs> {
  const update = processingPrefsUpdateSchema.safeParse(body ?? {});
  if (!update.success) return failure(update.error);
  const checked = processingPrefsSchema.safeParse({ ...DEFAULT_PROCESSING_PREFS, ...current, ...stripUndefined(update.data) });
  return checked.success ? { ok: true, value: checked.data } : failure(checked.error);
}

// ---------------------------------------------------------------------------------------------------------------
// runtime_flags

/** The stored `runtime_flags` document. Only known keys survive. */
export const runtimeFlagsSchema = z.object({
  gmail_ingress_enabled: z.boolean().default(true),
  allow_custom_webhook_without_links: z.boolean().default(false),
  disable_email_id_dedup: z.boolean().default(false),
  ...documentMeta,
});
export type RuntimeFlags = z.output<typeof runtimeFlagsSchema>;
export const DEFAULT_RUNTIME_FLAGS: RuntimeFlags = runtimeFlagsSchema.parse({});

/** The body of `POST /api/update_runtime_flags`: any subset of the three flags, Python-truthiness coerced. */
export const runtimeFlagsUpdateSchema = z.object({
  disable_email_id_dedup: pythonBool().optional(),
  allow_custom_webhook_without_links: pythonBool().optional(),
  gmail_ingress_enabled: pythonBool().optional(),
});
export type RuntimeFlagsUpdate = z.output<typeof runtimeFlagsUpdateSchema>;

export function applyRuntimeFlagsUpdate(current: RuntimeFlags, body: unknown): UpdateResult<RuntimeFlags> {
  const update = runtimeFlagsUpdateSchema.safeParse(body ?? {});
  if (!update.success) return failure(update.error);
  const checked = runtimeFlagsSchema.safeParse({ ...current, ...stripUndefined(update.data) });
  return checked.success ? { ok: true, value: checked.data } : failure(checked.error);
}
