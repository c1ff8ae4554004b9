import { Router } from 'express';
import { prepareSettingsImport, readImportFile, readSettings } from '@render-signal/config-store';
import { maskUrl } from '@render-signal/observability';
import type { AppDeps } from '../../app-deps';
import { invalid, ok, refusePrivateTargets, storeError } from './respond';

/**
 * Export / import of every settings document as one JSON file. URLs are exported masked (a stored URL is
 * never shown); on import a masked URL keeps the current value. Import validates everything first and
 * writes all documents in one transaction: nothing is half-applied. The original dashboard's export file
 * (render_signal_dashboard_config.json) is accepted too (readImportFile).
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
        webhook_config: {
          ...s.webhook_config,
          webhook_url: maskUrl(s.webhook_config.webhook_url),
          failure_webhook_url: maskUrl(s.webhook_config.failure_webhook_url),
          alert_webhook_url: maskUrl(s.webhook_config.alert_webhook_url),
        },
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
    // Our export, or the original dashboard's render_signal_dashboard_config.json.
    const { documents, format, notImported } = readImportFile(req.body);
    const prepared = prepareSettingsImport(await readSettings(deps.settings), documents, policy);
    if (!prepared.ok) throw invalid(prepared.message, prepared.errors);
    const current = await readSettings(deps.settings);
    const imported = prepared.values as {
      webhook_config?: { webhook_url: string | null; failure_webhook_url: string | null; alert_webhook_url: string | null };
      routing_rules?: { rules: Array<{ actions: { webhook_url: string } }> };
    };
    const known = new Set([
      current.webhook_config.webhook_url,
      current.webhook_config.failure_webhook_url,
      current.webhook_config.alert_webhook_url,
      ...current.routing_rules.rules.map((r) => r.actions.webhook_url),
    ]);
    const targets = [
      ...(['webhook_url', 'failure_webhook_url', 'alert_webhook_url'] as const).flatMap((field) => {
        const url = imported.webhook_config?.[field];
        return url ? [{ path: `webhook_config.${field}`, url }] : [];
      }),
      ...(imported.routing_rules?.rules ?? []).map((r, i) => ({
        path: `routing_rules.rules[${i}].actions.webhook_url`,
        url: r.actions.webhook_url,
      })),
    ].filter((t) => !known.has(t.url));
    await refusePrivateTargets(targets, policy);
    await deps.settings.putMany(prepared.values).catch((e: unknown) => {
      throw storeError(e);
    });
    ok(res, { message: 'Configuration importée.', imported: Object.keys(prepared.values), format, not_imported: notImported });
  });
  return router;
}
