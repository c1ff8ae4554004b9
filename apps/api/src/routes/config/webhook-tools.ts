import { Router } from 'express';
import { resolveDefaultTarget } from '@render-signal/config-store';
import { PermanentDeliveryError, RetryableDeliveryError, serializeWebhookPayload, webhookIdFor } from '@render-signal/delivery';
import { checkUrlShape } from '@render-signal/net-guard';
import { maskUrl } from '@render-signal/observability';
import { ApiError } from '../../http/api-error';
import type { AppDeps } from '../../app-deps';
import { ok } from './respond';

/** Secret rotation and the "send test webhook" button (a real delivery, one attempt, result shown). */
export function webhookToolsRouter(deps: AppDeps): Router {
  const router = Router();

  router.post('/api/webhooks/secret/rotate', async (_req, res) => {
    const secret = await deps.webhookSecret.rotate();
    deps.logger.info('config.webhook_secret_rotated', {});
    ok(res, { secret, message: 'Nouveau secret: copiez-le maintenant, il ne sera plus affiché.' });
  });

  router.post('/api/webhooks/test', async (req, res) => {
    const body = (req.body ?? {}) as { webhook_url?: unknown; payload?: unknown };
    const config = await deps.settings.get('webhook_config');
    const url = typeof body.webhook_url === 'string' && body.webhook_url ? body.webhook_url : resolveDefaultTarget(config, deps.env);
    if (!url) throw new ApiError(400, 'no_target', 'Aucune URL de webhook configurée.');
    try {
      checkUrlShape(url, { allowPrivateNetwork: deps.env.ALLOW_PRIVATE_NETWORK });
    } catch (error) {
      throw new ApiError(400, 'blocked_target', (error as Error).message);
    }
    const emailId = `test-webhook-${Date.now()}`;
    const payload = {
      microsoft_graph_email_id: emailId,
      subject: 'Render Signal test webhook',
      source: 'render_signal_test',
      sent_at: new Date().toISOString(),
      ...(body.payload && typeof body.payload === 'object' ? (body.payload as Record<string, unknown>) : {}),
    };
    const target = {
      url,
      origin: 'test',
      mode: config.webhook_delivery_mode,
      fallback_on_415: config.webhook_fallback_on_415,
      tls_verify: config.webhook_ssl_verify,
      require_success_flag: config.webhook_require_success_flag,
    };
    const webhookId = webhookIdFor(emailId, url);
    const bytes = serializeWebhookPayload(payload);
    const secret = await deps.webhookSecret.current();
    try {
      const result = await deps.deliverer.deliverWebhook({ target, webhookId, body: bytes, ...(secret ? { secret } : {}) });
      await deps.webhookLog.append({
        type: 'test',
        email_id: emailId,
        status: 'success',
        status_code: result.status,
        webhook_url: maskUrl(url),
        subject: payload.subject,
        duration_ms: result.duration_ms,
        final: true,
        webhook_id: webhookId,
      });
      ok(res, {
        dry_run: false,
        delivered: true,
        target: maskUrl(url),
        webhook_id: webhookId,
        status: result.status,
        duration_ms: result.duration_ms,
        response: result.response_excerpt,
        payload_size_bytes: bytes.length,
      });
    } catch (error) {
      if (!(error instanceof RetryableDeliveryError || error instanceof PermanentDeliveryError)) throw error;
      const facts = error.facts;
      await deps.webhookLog.append({
        type: 'test',
        email_id: emailId,
        status: 'error',
        status_code: facts.status ?? null,
        webhook_url: maskUrl(url),
        subject: payload.subject,
        failure_reason: facts.failure_reason,
        response_snippet: facts.response_excerpt,
        duration_ms: facts.duration_ms,
        final: true,
        webhook_id: webhookId,
      });
      // The request itself succeeded: the answer describes the target's failure.
      res.status(200).json({
        success: false,
        code: 'delivery_failed',
        message: error.message,
        delivered: false,
        target: maskUrl(url),
        status: facts.status ?? null,
        failure_reason: facts.failure_reason,
        response: facts.response_excerpt,
        duration_ms: facts.duration_ms,
      });
    }
  });
  /**
   * The original's test endpoint (docs/original-behaviour.md, "Test webhook"), same request and answer shapes; dry run by default. The
   * target
   * is always shown masked (the original returned it in clear), and the real send is one delivery attempt.
   */
  router.post('/api/test/send_test_webhook', async (req, res) => {
    const body = (req.body ?? {}) as {
      dry_run?: unknown;
      webhook_url?: unknown;
      email_id?: unknown;
      subject?: unknown;
      delivery_links?: unknown;
      payload?: unknown;
    };
    if (body.delivery_links !== undefined && !Array.isArray(body.delivery_links))
      throw new ApiError(400, 'invalid_request', 'delivery_links doit être une liste.');
    if (body.payload !== undefined && (typeof body.payload !== 'object' || body.payload === null || Array.isArray(body.payload))) {
      throw new ApiError(400, 'invalid_request', 'payload doit être un objet.');
    }
    const config = await deps.settings.get('webhook_config');
    const explicit = typeof body.webhook_url === 'string' && body.webhook_url ? body.webhook_url : undefined;
    const url = explicit ?? resolveDefaultTarget(config, deps.env);
    const emailId = typeof body.email_id === 'string' && body.email_id ? body.email_id : 'test-webhook';
    const base = (body.payload ?? {}) as Record<string, unknown>;
    const payload: Record<string, unknown> = {
      ...base,
      microsoft_graph_email_id: emailId,
      subject: typeof body.subject === 'string' ? body.subject : typeof base.subject === 'string' ? base.subject : '',
      ...(Array.isArray(body.delivery_links) && body.delivery_links.length > 0 ? { delivery_links: body.delivery_links } : {}),
    };
    const serialized = serializeWebhookPayload(payload);
    const sequence = config.webhook_fallback_on_415
      ? [config.webhook_delivery_mode, config.webhook_delivery_mode === 'json' ? 'form' : 'json']
      : [config.webhook_delivery_mode];
    const common = {
      target_url: maskUrl(url),
      target_masked: maskUrl(url),
      fallback_note: url ? null : 'no URL configured (no fallback target: nothing would be sent)',
      webhook_ssl_verify: config.webhook_ssl_verify,
      delivery_mode_sequence: sequence,
      resolved_delivery_mode: config.webhook_delivery_mode,
      fallback_on_415: config.webhook_fallback_on_415,
      payload_size_bytes: serialized.length,
    };
    if (body.dry_run !== false) {
      ok(res, {
        dry_run: true,
        message: 'Dry-run: aucun envoi effectué.',
        ...common,
        payload,
        serialized_payload: serialized.toString('utf8'),
      });
      return;
    }
    if (!url) throw new ApiError(400, 'no_target', 'Aucune URL de webhook configurée.');
    try {
      checkUrlShape(url, { allowPrivateNetwork: deps.env.ALLOW_PRIVATE_NETWORK });
    } catch (error) {
      throw new ApiError(400, 'blocked_target', (error as Error).message);
    }
    const target = {
      url,
      origin: 'test',
      mode: config.webhook_delivery_mode,
      fallback_on_415: config.webhook_fallback_on_415,
      tls_verify: config.webhook_ssl_verify,
      require_success_flag: config.webhook_require_success_flag,
    };
    const secret = await deps.webhookSecret.current();
    try {
      const result = await deps.deliverer.deliverWebhook({
        target,
        webhookId: webhookIdFor(emailId, url),
        body: serialized,
        ...(secret ? { secret } : {}),
      });
      ok(res, {
        dry_run: false,
        message: 'Webhook envoyé.',
        target_url: maskUrl(url),
        flow_result: {
          success: true,
          status_code: result.status,
          attempted_delivery_modes: result.attempted_modes,
          fallback_used: result.fallback_used,
        },
        payload_size_bytes: serialized.length,
      });
    } catch (error) {
      if (!(error instanceof RetryableDeliveryError || error instanceof PermanentDeliveryError)) throw error;
      ok(res, {
        dry_run: false,
        message: 'Webhook envoyé.',
        target_url: maskUrl(url),
        flow_result: {
          success: false,
          status_code: error.facts.status ?? null,
          failure_reason: error.facts.failure_reason,
          error_message: error.facts.response_excerpt ?? error.message,
        },
        payload_size_bytes: serialized.length,
      });
    }
  });
  return router;
}
