import { applyProcessingPrefsUpdate, applyRuntimeFlagsUpdate, applyWebhookConfigUpdate } from '@render-signal/contracts';
import { normalizeRules } from '@render-signal/routing';
import { SETTINGS_DOCUMENTS, type Settings } from './settings';

export type ImportResult =
  | { ok: true; values: Partial<Record<(typeof SETTINGS_DOCUMENTS)[number], unknown>> }
  | { ok: false; message: string; errors: Array<{ path: string; message: string }> };

const isMasked = (value: unknown) => typeof value === 'string' && value.endsWith('/***');

/**
 * Validates an import of settings documents against the current ones, all before anything is written
 * (the caller stores them in one transaction). A masked URL (`scheme://host/***`, as exports show them)
 * keeps the current value: an export can be re-imported without revealing secrets.
 */
export function prepareSettingsImport(current: Settings, documents: unknown, policy: { allowPrivateNetwork: boolean }): ImportResult {
  if (!documents || typeof documents !== 'object' || Array.isArray(documents)) {
    return { ok: false, message: 'documents manquants', errors: [{ path: 'documents', message: 'expected an object' }] };
  }
  const docs = documents as Record<string, unknown>;
  const unknown = Object.keys(docs).filter((name) => !(SETTINGS_DOCUMENTS as readonly string[]).includes(name));
  if (unknown.length > 0) {
    return {
      ok: false,
      message: `documents inconnus: ${unknown.join(', ')}`,
      errors: unknown.map((path) => ({ path, message: 'unknown document' })),
    };
  }
  const strip = (doc: unknown) => {
    const { _updated_at: _u, _revision: _r, ...rest } = (doc ?? {}) as Record<string, unknown>;
    return rest;
  };
  const fail = (name: string, result: { message: string; errors: Array<{ path: string; message: string }> }): ImportResult => ({
    ok: false,
    message: `${name}: ${result.message}`,
    errors: result.errors.map((e) => ({ path: `${name}.${e.path}`, message: e.message })),
  });
  const values: Partial<Record<(typeof SETTINGS_DOCUMENTS)[number], unknown>> = {};

  if (docs.webhook_config !== undefined) {
    const doc = strip(docs.webhook_config);
    for (const field of ['webhook_url', 'failure_webhook_url', 'alert_webhook_url']) if (isMasked(doc[field])) delete doc[field];
    const result = applyWebhookConfigUpdate(current.webhook_config, doc, policy);
    if (!result.ok) return fail('webhook_config', result);
    values.webhook_config = result.value;
  }
  if (docs.processing_prefs !== undefined) {
    const result = applyProcessingPrefsUpdate(current.processing_prefs, strip(docs.processing_prefs));
    if (!result.ok) return fail('processing_prefs', result);
    values.processing_prefs = result.value;
  }
  if (docs.runtime_flags !== undefined) {
    const result = applyRuntimeFlagsUpdate(current.runtime_flags, strip(docs.runtime_flags));
    if (!result.ok) return fail('runtime_flags', result);
    values.runtime_flags = result.value;
  }
  if (docs.routing_rules !== undefined) {
    const rules = strip(docs.routing_rules).rules ?? [];
    const restored = Array.isArray(rules)
      ? rules.map((rule: { id?: string; actions?: { webhook_url?: unknown } }) => {
          if (!isMasked(rule?.actions?.webhook_url)) return rule;
          const stored = current.routing_rules.rules.find((r) => r.id === rule.id);
          return stored ? { ...rule, actions: { ...rule.actions, webhook_url: stored.actions.webhook_url } } : rule;
        })
      : rules;
    const normalized = normalizeRules(restored, { refusePlaceholderUrls: true, allowPrivateNetwork: policy.allowPrivateNetwork });
    if (!normalized.ok) return fail('routing_rules', normalized);
    values.routing_rules = { rules: normalized.rules };
  }
  return { ok: true, values };
}

export interface ImportSource {
  /** The documents to hand to prepareSettingsImport (undefined when the file is neither format). */
  documents: unknown;
  format: 'render-signal' | 'original-dashboard-export';
  /** Parts of the file deliberately not imported, with why. */
  notImported: Array<{ path: string; reason: string }>;
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** The original never enforced its default rate limit (5/h, saved in every prefs document); we do. */
const ORIGINAL_UNENFORCED_RATE_LIMIT = 5;

/**
 * Reads an import file: ours (`{format, documents}`) or the original dashboard's export,
 * `render_signal_dashboard_config.json` = `{exported_at, webhook_config: {success, config}, time_window,
 * processing_prefs: {success, prefs}, ui_preferences}`. From the original's file, as its own import did: the URL only
 * when it is not masked (`***`), the toggles, the delivery mode, the absence settings, the time window and the prefs.
 */
export function readImportFile(file: unknown): ImportSource {
  if (!isRecord(file) || 'documents' in file || !('webhook_config' in file || 'processing_prefs' in file || 'time_window' in file)) {
    return { documents: isRecord(file) ? file.documents : undefined, format: 'render-signal', notImported: [] };
  }
  const notImported: ImportSource['notImported'] = [];
  const documents: Record<string, unknown> = {};
  const cfg = isRecord(file.webhook_config) && isRecord(file.webhook_config.config) ? file.webhook_config.config : undefined;
  const window = isRecord(file.time_window) ? file.time_window : undefined;
  const webhook: Record<string, unknown> = {};
  if (cfg) {
    if (typeof cfg.webhook_url === 'string' && cfg.webhook_url && !cfg.webhook_url.includes('***')) webhook.webhook_url = cfg.webhook_url;
    else if (typeof cfg.webhook_url === 'string' && cfg.webhook_url.includes('***')) {
      notImported.push({ path: 'webhook_config.config.webhook_url', reason: 'masked in the export: the current URL is kept' });
    }
    for (const field of ['webhook_ssl_verify', 'webhook_sending_enabled', 'webhook_fallback_on_415', 'absence_pause_enabled']) {
      if (typeof cfg[field] === 'boolean') webhook[field] = cfg[field];
    }
    if (typeof cfg.webhook_delivery_mode === 'string') webhook.webhook_delivery_mode = cfg.webhook_delivery_mode;
    if (Array.isArray(cfg.absence_pause_days)) webhook.absence_pause_days = cfg.absence_pause_days;
  }
  // One window here: the enforced one (webhook_config) when the export has it, else the "global" one.
  const text = (value: unknown) => (typeof value === 'string' ? value : '');
  if (cfg && (text(cfg.webhook_time_start) || text(cfg.webhook_time_end))) {
    webhook.webhook_time_start = text(cfg.webhook_time_start);
    webhook.webhook_time_end = text(cfg.webhook_time_end);
  } else if (window && ('webhooks_time_start' in window || 'webhooks_time_end' in window)) {
    webhook.webhook_time_start = text(window.webhooks_time_start);
    webhook.webhook_time_end = text(window.webhooks_time_end);
  }
  if (Object.keys(webhook).length > 0) documents.webhook_config = webhook;
  const prefs = isRecord(file.processing_prefs) && isRecord(file.processing_prefs.prefs) ? { ...file.processing_prefs.prefs } : undefined;
  if (prefs) {
    if (Number(prefs.rate_limit_per_hour) === ORIGINAL_UNENFORCED_RATE_LIMIT) {
      delete prefs.rate_limit_per_hour;
      notImported.push({
        path: 'processing_prefs.prefs.rate_limit_per_hour',
        reason: "5/h is the original's default, which it never enforced; Render Signal would enforce it: the current value is kept",
      });
    }
    documents.processing_prefs = prefs;
  }
  if ('ui_preferences' in file) notImported.push({ path: 'ui_preferences', reason: "the original dashboard's browser display settings" });
  return { documents, format: 'original-dashboard-export', notImported };
}
