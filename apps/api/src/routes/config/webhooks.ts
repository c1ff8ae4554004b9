import { Router, type RequestHandler } from 'express';
import { applyWebhookConfigUpdate, type WebhookConfig } from '@render-signal/contracts';
import { resolveDefaultTarget } from '@render-signal/config-store';
import { maskUrl } from '@render-signal/observability';
import type { AppDeps } from '../../app-deps';
import { expectedRevision, invalid, keepStoredUrl, ok, refusePrivateTargets, storeError } from './respond';

/** What GET /api/webhooks/config shows: the original's fields, every URL masked, plus ours. */
function presentWebhookConfig(config: WebhookConfig & { _updated_at: string | null; _revision: number }, deps: AppDeps) {
  return {
    webhook_url: maskUrl(config.webhook_url ?? deps.env.WEBHOOK_URL),
    webhook_url_source: config.webhook_url ? 'stored' : deps.env.WEBHOOK_URL ? 'env' : null,
    webhook_ssl_verify: config.webhook_ssl_verify,
    webhook_sending_enabled: config.webhook_sending_enabled,
    webhook_delivery_mode: config.webhook_delivery_mode,
    webhook_fallback_on_415: config.webhook_fallback_on_415,
    webhook_require_success_flag: config.webhook_require_success_flag,
    webhook_time_start: config.webhook_time_start || null,
    webhook_time_end: config.webhook_time_end || null,
    absence_pause_enabled: config.absence_pause_enabled,
    absence_pause_days: config.absence_pause_days,
    failure_webhook_url: maskUrl(config.failure_webhook_url),
    /** The default target's body (absent from the document: standard). */
    payload: config.payload ?? { format: 'standard' },
    alert_webhook_url: maskUrl(config.alert_webhook_url),
    alert_email_to: config.alert_email_to,
    effective_target: maskUrl(resolveDefaultTarget(config, deps.env)),
    _updated_at: config._updated_at,
    _revision: config._revision,
  };
}

/**
 * The original's webhook settings endpoints (docs/original-behaviour.md, "Dashboard endpoints"), with one time window for both families
 * (docs/migration.md).
 */
export function webhookConfigRouter(deps: AppDeps): Router {
  const router = Router();
  const policy = { allowPrivateNetwork: deps.env.ALLOW_PRIVATE_NETWORK };

  async function update(body: unknown, changes: Record<string, unknown>) {
    const current = await deps.settings.get('webhook_config');
    const result = applyWebhookConfigUpdate(current, changes, policy);
    if (!result.ok) throw invalid(result.message, result.errors);
    await refusePrivateTargets(
      (['webhook_url', 'failure_webhook_url', 'alert_webhook_url'] as const).flatMap((field) => {
        const url = result.value[field];
        return url && url !== current[field] ? [{ path: field, url }] : [];
      }),
      policy,
    );
    return deps.settings.put('webhook_config', result.value, { expectedRevision: expectedRevision(body) }).catch((e: unknown) => {
      throw storeError(e);
    });
  }

  router.get('/api/webhooks/config', async (_req, res) => {
    ok(res, { config: presentWebhookConfig(await deps.settings.get('webhook_config'), deps) });
  });
  router.post('/api/webhooks/config', async (req, res) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    // Obsolete keys of the original are dropped; unknown keys ignored (only known keys are copied).
    const { recadrage_webhook_url: _r, autorepondeur_webhook_url: _a, polling_enabled: _p, ...changes } = body;
    // A URL sent back as GET showed it (masked) leaves the field as it is; one that masks no stored URL is a 400.
    const current = await deps.settings.get('webhook_config');
    const shown = { webhook_url: current.webhook_url ?? deps.env.WEBHOOK_URL, failure_webhook_url: current.failure_webhook_url };
    for (const field of ['webhook_url', 'failure_webhook_url'] as const) {
      const value = changes[field];
      if (typeof value === 'string' && keepStoredUrl(value, [shown[field]], field) !== value) delete changes[field];
    }
    const saved = await update(body, changes);
    ok(res, { message: 'Configuration mise à jour avec succès.', config: presentWebhookConfig(saved, deps) });
  });

  const readWindow = async () => {
    const config = await deps.settings.get('webhook_config');
    return { webhooks_time_start: config.webhook_time_start || null, webhooks_time_end: config.webhook_time_end || null };
  };
  /** POST {start, end}: both empty clears the window; one side alone or a bad format is a 400. */
  const writeWindow: RequestHandler = async (req, res) => {
    const body = (req.body ?? {}) as { start?: unknown; end?: unknown };
    const start = typeof body.start === 'string' ? body.start.trim() : '';
    const end = typeof body.end === 'string' ? body.end.trim() : '';
    await update(body, { webhook_time_start: start, webhook_time_end: end });
    ok(res, {
      message: start || end ? 'Time window updated.' : 'Time window cleared (no constraints).',
      webhooks_time_start: start || null,
      webhooks_time_end: end || null,
    });
  };

  router.get('/api/webhooks/time-window', async (_req, res) => ok(res, await readWindow()));
  router.post('/api/webhooks/time-window', writeWindow);
  // The original's "global" window endpoints: the same (enforced) window, plus the time zone.
  router.get('/api/get_webhook_time_window', async (_req, res) =>
    ok(res, { ...(await readWindow()), timezone: deps.env.POLLING_TIMEZONE }),
  );
  router.post('/api/set_webhook_time_window', writeWindow);
  return router;
}
