import express, { Router } from 'express';
import type { ApiEnv } from '@render-signal/config';
import {
  createPushVerifier,
  decodeGmailNotification,
  isLaterHistoryId,
  oidcIssuers,
  PushFormatError,
  syncJobOptions,
  type PushAuthConfig,
} from '@render-signal/gmail';
import { ApiError } from '../http/api-error';
import type { AppDeps } from '../app-deps';

/** The push endpoint's authentication from the env; a half-configured one stops the API at startup. */
export function pushAuthConfig(env: ApiEnv): PushAuthConfig {
  if (env.GMAIL_PUSH_AUTH === 'token') {
    if (!env.GMAIL_PUSH_VERIFICATION_TOKEN) throw new Error('GMAIL_PUSH_AUTH=token needs GMAIL_PUSH_VERIFICATION_TOKEN');
    return { mode: 'token', token: env.GMAIL_PUSH_VERIFICATION_TOKEN };
  }
  if (!env.GMAIL_PUSH_AUDIENCE || !env.GMAIL_PUSH_SERVICE_ACCOUNT) {
    throw new Error('GMAIL_PUSH_ENABLED=true with GMAIL_PUSH_AUTH=oidc needs GMAIL_PUSH_AUDIENCE and GMAIL_PUSH_SERVICE_ACCOUNT');
  }
  return {
    mode: 'oidc',
    jwksUrl: env.GOOGLE_OIDC_JWKS_URL,
    issuer: oidcIssuers(env.GOOGLE_OIDC_ISSUER),
    audience: env.GMAIL_PUSH_AUDIENCE,
    serviceAccountEmail: env.GMAIL_PUSH_SERVICE_ACCOUNT,
  };
}

/**
 * POST /api/ingress/gmail/pubsub — Cloud Pub/Sub push of a Gmail notification. Authenticated by its
 * own scheme (not the operator guard): 401 for a bad or missing signature, 400 for a body that is not
 * a Gmail notification, otherwise 204 at once, the sync runs in a worker. Stale, duplicate and
 * unknown-mailbox notifications get 204 too: any non-2xx makes Pub/Sub redeliver until the message
 * expires. Only a failure to enqueue (Redis down) answers 503, so Pub/Sub retries it.
 */
export function gmailPubsubRouter(deps: AppDeps): Router {
  const router = Router();
  const { env, logger } = deps;
  const path = '/api/ingress/gmail/pubsub';
  if (!env.GMAIL_PUSH_ENABLED) {
    router.post(path, (_req, _res, next) =>
      next(new ApiError(404, 'gmail_push_disabled', 'Gmail push ingress is not enabled (GMAIL_PUSH_ENABLED)')),
    );
    return router;
  }
  const verifier = createPushVerifier(pushAuthConfig(env));
  router.post(
    path,
    async (req, _res, next) => {
      const verdict = await verifier.verify({
        authorization: req.get('authorization'),
        queryToken: typeof req.query.token === 'string' ? req.query.token : undefined,
      });
      if (verdict.ok) return next();
      logger.warn('gmail.push_rejected', { reason: verdict.reason });
      next(new ApiError(401, 'unauthorized', 'Unauthorized'));
    },
    // A Gmail notification is ~150 bytes; Pub/Sub wraps it in well under 1 KB.
    express.json({ limit: '64kb', type: () => true }),
    async (req, res, next) => {
      try {
        let notification;
        try {
          notification = decodeGmailNotification(req.body);
        } catch (error) {
          if (error instanceof PushFormatError) throw new ApiError(400, 'invalid_notification', error.message);
          throw error;
        }
        const fields = {
          mailbox: notification.emailAddress,
          history_id: notification.historyId,
          pubsub_message_id: notification.pubsubMessageId,
        };
        const mailbox = await deps.gmail.mailboxes.get(notification.emailAddress);
        if (!mailbox || mailbox.state !== 'active') {
          logger.info('gmail.push_ignored', { ...fields, reason: mailbox ? mailbox.state : 'unknown_mailbox' });
          res.status(204).end();
          return;
        }
        if (mailbox.historyId && !isLaterHistoryId(notification.historyId, mailbox.historyId)) {
          logger.debug('gmail.push_stale', { ...fields, stored_history_id: mailbox.historyId });
          res.status(204).end();
          return;
        }
        await deps.gmail.producer.add(
          'sync',
          { email_address: mailbox.address, trigger: 'push', notified_history_id: notification.historyId },
          syncJobOptions(mailbox.address),
        );
        logger.info('gmail.push_received', fields);
        res.status(204).end();
      } catch (error) {
        if (error instanceof ApiError) return next(error);
        // Redis did not answer (the producer connection fails fast): a 503 makes Pub/Sub redeliver later.
        logger.warn('gmail.push_enqueue_failed', { error: (error as Error).message });
        next(new ApiError(503, 'redis_unavailable', 'Service unavailable', { retryAfterSeconds: 5 }));
      }
    },
  );
  return router;
}
