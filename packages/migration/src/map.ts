import { createHash } from 'node:crypto';
import {
  applyProcessingPrefsUpdate,
  applyRuntimeFlagsUpdate,
  applyWebhookConfigUpdate,
  type ProcessingPrefs,
  type RuntimeFlags,
  type WebhookConfig,
  type WebhookUrlPolicy,
} from '@render-signal/contracts';
import type { CarriedMagicLink } from '@render-signal/auth';
import type { WebhookLogEntry } from '@render-signal/delivery';
import { maskText, maskUrl } from '@render-signal/observability';
import { normalizeRules, type RoutingRule } from '@render-signal/routing';

/**
 * Pure mapping from the original server's stored formats (docs/original-behaviour.md) to ours. Each function
 * takes the original value and the current new value, and returns what would be stored, the field-by-field
 * changes (URLs masked) and what cannot be carried, with why. Nothing here touches Redis or files.
 */

export interface Skip {
  /** What was not carried, e.g. `routing_rules.rules[1] "Urgent"`. */
  item: string;
  reason: string;
  /** The value, masked. */
  value?: string;
}

export interface FieldChange {
  field: string;
  from: string;
  to: string;
}

export interface DocumentMapping<T> {
  value: T;
  /** Fields (or rules) of the original that could be carried, changed or not. */
  carried: number;
  changes: FieldChange[];
  skipped: Skip[];
}

type JsonObject = Record<string, unknown>;
const isObject = (value: unknown): value is JsonObject => typeof value === 'object' && value !== null && !Array.isArray(value);

/** A value as the report shows it: URLs masked, empty as "(vide)". */
export function show(value: unknown): string {
  if (value === null || value === undefined || value === '') return '(empty)';
  if (typeof value === 'string') return /^https?:\/\//i.test(value) ? (maskUrl(value) ?? '***') : JSON.stringify(value);
  return maskText(JSON.stringify(value));
}

/** JSON with sorted keys, for "did it change" comparisons. */
export function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (isObject(value)) {
    return `{${Object.keys(value)
      .filter((k) => value[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableJson(value[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

const META = new Set(['_updated_at', '_revision']);

function diff(before: JsonObject, after: JsonObject, document: string): FieldChange[] {
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].filter((k) => !META.has(k));
  return keys
    .filter((k) => stableJson(before[k]) !== stableJson(after[k]))
    .map((k) => ({ field: `${document}.${k}`, from: show(before[k]), to: show(after[k]) }));
}

type Apply<T> = (current: T, body: unknown) => { ok: true; value: T } | { ok: false; message: string };

/**
 * Applies the original's fields group by group (a group is validated together, e.g. both ends of the time
 * window): a group that fails is listed and the rest is still carried.
 */
function carryGroups<T extends object>(
  document: string,
  original: JsonObject,
  current: T,
  groups: ReadonlyArray<readonly string[]>,
  notCarried: Record<string, string | ((value: unknown) => string | null)>,
  apply: Apply<T>,
): DocumentMapping<T> {
  const skipped: Skip[] = [];
  let value = current;
  let carried = 0;
  const known = new Set([...groups.flat(), ...Object.keys(notCarried), ...META]);
  for (const [field, reason] of Object.entries(notCarried)) {
    if (!(field in original)) continue;
    const why = typeof reason === 'function' ? reason(original[field]) : reason;
    if (why) skipped.push({ item: `${document}.${field}`, value: show(original[field]), reason: why });
  }
  for (const field of Object.keys(original).filter((k) => !known.has(k))) {
    skipped.push({ item: `${document}.${field}`, value: show(original[field]), reason: 'field unknown to Render Signal' });
  }
  for (const group of groups) {
    const body = Object.fromEntries(
      group
        .filter((field) => field in original)
        .filter(
          (field) => !(typeof notCarried[field] === 'function' && (notCarried[field] as (v: unknown) => string | null)(original[field])),
        )
        .map((field) => [field, original[field]]),
    );
    if (Object.keys(body).length === 0) continue;
    const result = apply(value, body);
    if (!result.ok) {
      skipped.push({
        item: `${document}.${group.join('+')}`,
        value: show(group.length === 1 ? body[group[0]!] : body),
        reason: result.message,
      });
      continue;
    }
    value = result.value;
    carried += 1;
  }
  return { value, carried, changes: diff(current as JsonObject, value as JsonObject, document), skipped };
}

const GLOBAL_WINDOW_REASON =
  'the original\'s "global" window, never enforced on ingress: Render Signal has one window, webhook_time_start/end (carried as it was)';
const OBSOLETE_REASON = 'obsolete field the original already ignored';

export function mapWebhookConfig(original: JsonObject, current: WebhookConfig, policy: WebhookUrlPolicy): DocumentMapping<WebhookConfig> {
  // An empty URL in the original meant "use env WEBHOOK_URL": nothing to carry, the current value stays.
  const source = { ...original };
  if (source.webhook_url === null || source.webhook_url === '') delete source.webhook_url;
  return carryGroups(
    'webhook_config',
    source,
    current,
    [
      ['webhook_url'],
      ['webhook_ssl_verify'],
      ['webhook_sending_enabled'],
      ['webhook_delivery_mode'],
      ['webhook_fallback_on_415'],
      ['webhook_time_start', 'webhook_time_end'],
      ['absence_pause_days', 'absence_pause_enabled'],
    ],
    {
      global_time_start: GLOBAL_WINDOW_REASON,
      global_time_end: GLOBAL_WINDOW_REASON,
      recadrage_webhook_url: OBSOLETE_REASON,
      autorepondeur_webhook_url: OBSOLETE_REASON,
      polling_enabled: OBSOLETE_REASON,
    },
    (doc, body) => applyWebhookConfigUpdate(doc, body, policy),
  );
}

/** The original's default rate limit: saved into every prefs document, never enforced (a bug). */
export const ORIGINAL_UNENFORCED_RATE_LIMIT = 5;

export const RATE_LIMIT_REASON =
  "5/h is the original's default, which it never enforced; Render Signal enforces it (deliveries past 5 per hour and target " +
  'would wait), so the current value is kept (default 0 = unlimited): set a limit on the dashboard if you want one';

export function mapProcessingPrefs(original: JsonObject, current: ProcessingPrefs): DocumentMapping<ProcessingPrefs> {
  const fields = [
    'exclude_keywords',
    'exclude_keywords_recadrage',
    'exclude_keywords_autorepondeur',
    'require_attachments',
    'max_email_size_mb',
    'sender_priority',
    'retry_count',
    'retry_delay_sec',
    'webhook_timeout_sec',
    'rate_limit_per_hour',
    'notify_on_failure',
    'mirror_media_to_custom',
  ];
  return carryGroups(
    'processing_prefs',
    original,
    current,
    fields.map((f) => [f]),
    {
      rate_limit_per_hour: (value) => (Number(value) === ORIGINAL_UNENFORCED_RATE_LIMIT ? RATE_LIMIT_REASON : null),
    },
    applyProcessingPrefsUpdate,
  );
}

export const DEDUP_FLAG_REASON =
  'the original never read this flag (its dedup stayed on); Render Signal obeys it, so carrying it would re-send emails ' +
  'already processed: turn it on from the dashboard if that is really wanted';

export function mapRuntimeFlags(original: JsonObject, current: RuntimeFlags): DocumentMapping<RuntimeFlags> {
  return carryGroups(
    'runtime_flags',
    original,
    current,
    [['gmail_ingress_enabled'], ['allow_custom_webhook_without_links'], ['disable_email_id_dedup']],
    { disable_email_id_dedup: (value) => (value === true || value === 'true' || value === 1 ? DEDUP_FLAG_REASON : null) },
    applyRuntimeFlagsUpdate,
  );
}

const ruleLabel = (raw: unknown, index: number) => {
  const name = isObject(raw) && typeof raw.name === 'string' && raw.name.trim() ? raw.name.trim() : `Rule ${index + 1}`;
  return `routing_rules.rules[${index}] "${name}"`;
};

/** Each rule is checked alone (one bad rule does not stop the others), then the kept list together (duplicate ids). */
export function mapRoutingRules(
  original: JsonObject,
  current: { rules: RoutingRule[] },
  policy: WebhookUrlPolicy,
): DocumentMapping<{ rules: RoutingRule[] }> {
  const options = { refusePlaceholderUrls: true, allowPrivateNetwork: policy.allowPrivateNetwork };
  const skipped: Skip[] = [];
  if (!('rules' in original)) return { value: current, carried: 0, changes: [], skipped };
  if (!Array.isArray(original.rules)) {
    return {
      value: current,
      carried: 0,
      changes: [],
      skipped: [{ item: 'routing_rules.rules', value: show(original.rules), reason: 'rules doit être une liste.' }],
    };
  }
  // An empty list carries nothing: rules already made on the new deployment stay.
  if (original.rules.length === 0) return { value: current, carried: 0, changes: [], skipped };
  const kept: unknown[] = [];
  original.rules.forEach((rule, index) => {
    const checked = normalizeRules([rule], options);
    if (checked.ok) kept.push(rule);
    else {
      const url = isObject(rule) && isObject(rule.actions) ? rule.actions.webhook_url : undefined;
      const where = checked.errors[0]?.path.replace(/^rules\[0\]\.?/, '') ?? '';
      skipped.push({ item: ruleLabel(rule, index), value: show(url), reason: `${checked.message}${where ? ` (${where})` : ''}` });
    }
  });
  if (kept.length === 0) return { value: current, carried: 0, changes: [], skipped };
  const all = normalizeRules(kept, options);
  if (!all.ok) return { value: current, carried: 0, changes: [], skipped: [...skipped, { item: 'routing_rules', reason: all.message }] };
  const value = { rules: all.rules };
  const changes =
    stableJson(current.rules) === stableJson(value.rules)
      ? []
      : value.rules
          .map((rule) => ({
            field: `routing_rules.rules "${rule.name}"`,
            from: current.rules.some((r) => stableJson(r) === stableJson(rule)) ? 'same' : '(absent)',
            to: `${rule.conditions.map((c) => `${c.field} ${c.operator} ${JSON.stringify(c.value)}`).join(' and ')} → ${show(rule.actions.webhook_url)}`,
          }))
          .concat(
            current.rules
              .filter((r) => !value.rules.some((n) => n.id === r.id))
              .map((r) => ({
                field: `routing_rules.rules "${r.name}"`,
                from: 'present',
                to: "(removed: the original's list replaces it)",
              })),
          );
  return { value, carried: all.rules.length, changes, skipped };
}

/** The original's magic-link state (`{token_id: {expires_at, consumed, consumed_at, single_use}}`). */
export function mapMagicLinks(original: unknown, nowMs: number): { links: CarriedMagicLink[]; skipped: Skip[] } {
  const links: CarriedMagicLink[] = [];
  const skipped: Skip[] = [];
  if (!isObject(original)) {
    return {
      links,
      skipped: [{ item: 'magic_link_tokens', value: show(original), reason: 'unreadable document (an object was expected)' }],
    };
  }
  for (const [id, record] of Object.entries(original)) {
    const item = `magic_link ${id.slice(0, 6)}…`;
    if (id.startsWith('_') && !isObject(record)) continue; // _updated_at and similar metadata
    if (!isObject(record) || !/^[A-Za-z0-9_-]{1,128}$/.test(id)) {
      skipped.push({ item, reason: 'unreadable record' });
      continue;
    }
    const expiresAt = record.expires_at === null || record.expires_at === undefined ? null : Number(record.expires_at);
    if (expiresAt !== null && !Number.isFinite(expiresAt)) {
      skipped.push({ item, value: show(record.expires_at), reason: 'unreadable expires_at' });
      continue;
    }
    const singleUse = record.single_use === undefined ? true : Boolean(record.single_use);
    if (expiresAt === null) {
      if (singleUse && record.consumed) skipped.push({ item, reason: 'one-shot link already used' });
      else links.push({ id, expires: null });
      continue;
    }
    if (expiresAt * 1000 <= nowMs) {
      skipped.push({ item, reason: `expired on ${new Date(expiresAt * 1000).toISOString()}` });
    } else if (singleUse && record.consumed) {
      skipped.push({ item, reason: 'one-shot link already used' });
    } else {
      links.push({ id, expires: Math.floor(expiresAt) });
    }
  }
  return { links, skipped };
}

/** A processed marker with its remaining TTL (PTTL: -1 = none, -2 = gone). */
export function mapProcessedMarker(
  marker: { emailId: string; pttlMs: number },
  defaultTtlMs: number,
): { emailId: string; ttlMs: number } | Skip {
  if (!marker.emailId) return { item: 'processed_email (empty id)', reason: 'empty email id' };
  if (marker.pttlMs === -2 || marker.pttlMs === 0) return { item: `processed_email ${marker.emailId}`, reason: 'expired while being read' };
  // No TTL in the original (set by hand): our dedup keys need one, the dedup window is used.
  return { emailId: marker.emailId, ttlMs: marker.pttlMs < 0 ? defaultTtlMs : marker.pttlMs };
}

const NAIVE_ISO = /T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/;

/** Python isoformat() → epoch ms; a timestamp without offset is UTC (the original wrote UTC). */
export function parseOriginalTimestamp(value: unknown): number | null {
  if (typeof value !== 'string' || !value.trim()) return null;
  const text = value.trim();
  const at = Date.parse(NAIVE_ISO.test(text) ? `${text}Z` : text);
  return Number.isNaN(at) ? null : at;
}

const LOG_STATUSES = new Set(['success', 'error', 'skipped']);

/**
 * One line of the original's webhook log (a JSON object as RPUSHed to `webhook_logs` / `r:ss:webhook_logs:v1`,
 * or an item of debug/webhook_logs.json) → one entry of ours. The URL was stored truncated, not masked: it is
 * masked now. `import_key` (a content hash) makes a second run, or the same entry under both keys, count once.
 */
export function mapWebhookLogLine(
  raw: unknown,
  from: string,
  index: number,
  options: { nowMs: number; maxAgeDays: number },
): WebhookLogEntry | Skip {
  const item = `${from}[${index}]`;
  let entry: unknown = raw;
  if (typeof raw === 'string') {
    try {
      entry = JSON.parse(raw);
    } catch {
      return { item, reason: 'unreadable line (invalid JSON)' };
    }
  }
  if (!isObject(entry)) return { item, reason: 'unreadable entry (an object was expected)' };
  const at = parseOriginalTimestamp(entry.timestamp);
  if (at === null) return { item, value: show(entry.timestamp), reason: 'unreadable date: it cannot be placed in the log' };
  if (at < options.nowMs - options.maxAgeDays * 86_400_000) {
    return {
      item,
      value: new Date(at).toISOString(),
      reason: `older than WEBHOOK_LOG_MAX_AGE_DAYS (${options.maxAgeDays} days): the log would drop it at once`,
    };
  }
  const status = typeof entry.status === 'string' ? entry.status.toLowerCase() : '';
  if (!LOG_STATUSES.has(status)) return { item, value: show(entry.status), reason: 'unknown status (success|error|skipped expected)' };
  const hash = createHash('sha256').update(stableJson(entry)).digest('hex');
  const text = (value: unknown, max: number) => (typeof value === 'string' && value ? maskText(value).slice(0, max) : undefined);
  const mapped: WebhookLogEntry = {
    id: at * 1000 + (parseInt(hash.slice(0, 6), 16) % 1000),
    timestamp: new Date(at).toISOString(),
    type: entry.type === 'test' ? 'test' : 'custom',
    email_id: typeof entry.email_id === 'string' ? entry.email_id : '',
    status: status as WebhookLogEntry['status'],
    status_code: typeof entry.status_code === 'number' ? entry.status_code : null,
    webhook_url: typeof entry.webhook_url === 'string' && entry.webhook_url ? maskUrl(entry.webhook_url.replace(/\.\.\.$/, '')) : null,
    subject: typeof entry.subject === 'string' ? entry.subject.slice(0, 100) : '',
    import_key: `original:${hash.slice(0, 24)}`,
  };
  if (typeof entry.delivery_mode === 'string') mapped.delivery_mode = entry.delivery_mode;
  if (Array.isArray(entry.attempted_delivery_modes))
    mapped.attempted_delivery_modes = entry.attempted_delivery_modes.filter((m) => typeof m === 'string');
  if (typeof entry.fallback_used === 'boolean') mapped.fallback_used = entry.fallback_used;
  if (typeof entry.payload_size_bytes === 'number') mapped.payload_size_bytes = entry.payload_size_bytes;
  const error = text(entry.error_message, 500);
  if (error) mapped.error_message = error;
  const snippet = text(entry.response_snippet, 500);
  if (snippet) mapped.response_snippet = snippet;
  if (typeof entry.failure_reason === 'string') mapped.failure_reason = entry.failure_reason;
  mapped.final = true;
  return mapped;
}

export const isSkip = (value: object): value is Skip => 'reason' in value && 'item' in value;
