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
    for (const field of ['webhook_url', 'failure_webhook_url']) if (isMasked(doc[field])) delete doc[field];
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
