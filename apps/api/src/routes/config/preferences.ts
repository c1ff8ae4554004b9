import { Router } from 'express';
import { applyProcessingPrefsUpdate, applyRuntimeFlagsUpdate } from '@render-signal/contracts';
import { effectiveRetrySchedule, readRetryPolicy } from '@render-signal/delivery';
import type { AppDeps } from '../../app-deps';
import { expectedRevision, invalid, ok, storeError } from './respond';

/** processing_prefs and runtime_flags (docs/original-behaviour.md, "Dashboard endpoints"), with the original's paths and aliases. */
export function preferencesRouter(deps: AppDeps): Router {
  const router = Router();

  const getPrefs = async (_req: unknown, res: Parameters<typeof ok>[0]) => {
    const prefs = await deps.settings.get('processing_prefs');
    // The schedule the workers published at start, bounded by these prefs (null until a worker ran).
    const policy = await readRetryPolicy(deps.redis, deps.env.QUEUE_PREFIX).catch(() => null);
    ok(res, { prefs, retry_schedule: policy ? effectiveRetrySchedule(policy, prefs) : null });
  };
  const postPrefs = async (req: { body?: unknown }, res: Parameters<typeof ok>[0]) => {
    const current = await deps.settings.get('processing_prefs');
    const result = applyProcessingPrefsUpdate(current, req.body);
    if (!result.ok) throw invalid(result.message, result.errors);
    const saved = await deps.settings
      .put('processing_prefs', result.value, { expectedRevision: expectedRevision(req.body) })
      .catch((e: unknown) => {
        throw storeError(e);
      });
    ok(res, { message: 'Préférences mises à jour.', prefs: saved });
  };
  router.get(['/api/processing_prefs', '/api/get_processing_prefs'], getPrefs);
  router.post(['/api/processing_prefs', '/api/update_processing_prefs'], postPrefs);

  router.get('/api/get_runtime_flags', async (_req, res) => {
    const { gmail_ingress_enabled, allow_custom_webhook_without_links, disable_email_id_dedup } = await deps.settings.get('runtime_flags');
    ok(res, { flags: { disable_email_id_dedup, allow_custom_webhook_without_links, gmail_ingress_enabled } });
  });
  router.post('/api/update_runtime_flags', async (req, res) => {
    const current = await deps.settings.get('runtime_flags');
    const result = applyRuntimeFlagsUpdate(current, req.body);
    if (!result.ok) throw invalid(result.message, result.errors);
    const saved = await deps.settings
      .put('runtime_flags', result.value, { expectedRevision: expectedRevision(req.body) })
      .catch((e: unknown) => {
        throw storeError(e);
      });
    ok(res, {
      flags: {
        disable_email_id_dedup: saved.disable_email_id_dedup,
        allow_custom_webhook_without_links: saved.allow_custom_webhook_without_links,
        gmail_ingress_enabled: saved.gmail_ingress_enabled,
      },
      // Unlike the original, no restart is needed: every process sees the change within a second.
      message: 'Modifications enregistrées.',
    });
  });
  return router;
}
