import { Router } from 'express';
import { applyProcessingPrefsUpdate, applyRuntimeFlagsUpdate, applyWebhookConfigUpdate } from '@render-signal/contracts';
import { readSettings, SETTINGS_DOCUMENTS } from '@render-signal/config-store';
import { maskUrl } from '@render-signal/observability';
import { normalizeRules } from '@render-signal/routing';
import type { AppDeps } from '../../app';
import { invalid, ok, storeError } from './respond';

const isMasked = (value: unknown) => typeof value === 'string' && value.endsWith('/***');

/**
 * Export / import of every settings document as one JSON file. URLs are exported masked (a stored URL is
 * never shown); on import a masked URL keeps the current value. Import validates everything first and
 * writes all documents in one transaction: nothing is half-applied.
 */
export function configIoRouter(deps: AppDeps): Router {
  const router = Router();
  const policy = { allowPrivateNetwork: deps.env.ALLOW_PRIVATE_NETWORK };

  router.get('/api/config/export', async (_req, res) => {
    const s = await readSettings(deps.settings);
    res.setHeader('content-disposition', 'attachment; filename="render_signal_config.json"');
    ok(res, {
      exported_at: new Date().toISOString(),
      format: 'render-signal-config/1',
      documents: {
        webhook_config: { ...s.webhook_config, webhook_url: maskUrl(s.webhook_config.webhook_url), failure_webhook_url: maskUrl(s.webhook_config.failure_webhook_url) },
        processing_prefs: s.processing_prefs,
        runtime_flags: s.runtime_flags,
        routing_rules: {
          ...s.routing_rules,
          rules: s.routing_rules.rules.map((r) => ({ ...r, actions: { ...r.actions, webhook_url: maskUrl(r.actions.webhook_url) } })),
        },
      },
    });
  });

  router.post('/api/config/import', async (req, res) => {
    const documents = ((req.body ?? {}) as { documents?: Record<string, unknown> }).documents;
    if (!documents || typeof documents !== 'object') throw invalid('documents manquants', [{ path: 'documents', message: 'expected an object' }]);
    const unknown = Object.keys(documents).filter((name) => !(SETTINGS_DOCUMENTS as readonly string[]).includes(name));
    if (unknown.length > 0) throw invalid(`documents inconnus: ${unknown.join(', ')}`, unknown.map((path) => ({ path, message: 'unknown document' })));
    const current = await readSettings(deps.settings);
    const strip = (doc: unknown) => {
      const { _updated_at: _u, _revision: _r, ...rest } = (doc ?? {}) as Record<string, unknown>;
      return rest;
    };
    const fail = (name: string, result: { message: string; errors: Array<{ path: string; message: string }> }) =>
      invalid(`${name}: ${result.message}`, result.errors.map((e) => ({ path: `${name}.${e.path}`, message: e.message })));
    const values: Record<string, unknown> = {};

    if (documents.webhook_config !== undefined) {
      const doc = strip(documents.webhook_config);
      for (const field of ['webhook_url', 'failure_webhook_url']) if (isMasked(doc[field])) delete doc[field];
      const result = applyWebhookConfigUpdate(current.webhook_config, doc, policy);
      if (!result.ok) throw fail('webhook_config', result);
      values.webhook_config = result.value;
    }
    if (documents.processing_prefs !== undefined) {
      const result = applyProcessingPrefsUpdate(current.processing_prefs, strip(documents.processing_prefs));
      if (!result.ok) throw fail('processing_prefs', result);
      values.processing_prefs = result.value;
    }
    if (documents.runtime_flags !== undefined) {
      const result = applyRuntimeFlagsUpdate(current.runtime_flags, strip(documents.runtime_flags));
      if (!result.ok) throw fail('runtime_flags', result);
      values.runtime_flags = result.value;
    }
    if (documents.routing_rules !== undefined) {
      const rules = (strip(documents.routing_rules).rules ?? []) as Array<{ id?: string; actions?: { webhook_url?: unknown } }>;
      const restored = Array.isArray(rules)
        ? rules.map((rule) => {
            if (!isMasked(rule?.actions?.webhook_url)) return rule;
            const stored = current.routing_rules.rules.find((r) => r.id === rule.id);
            return stored ? { ...rule, actions: { ...rule.actions, webhook_url: stored.actions.webhook_url } } : rule;
          })
        : rules;
      const normalized = normalizeRules(restored, { refusePlaceholderUrls: true, allowPrivateNetwork: deps.env.ALLOW_PRIVATE_NETWORK });
      if (!normalized.ok) throw fail('routing_rules', normalized);
      values.routing_rules = { rules: normalized.rules };
    }
    await deps.settings.putMany(values).catch((e: unknown) => {
      throw storeError(e);
    });
    ok(res, { message: 'Configuration importée.', imported: Object.keys(values) });
  });
  return router;
}
