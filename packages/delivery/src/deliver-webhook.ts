import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import got, { RequestError, type Response } from 'got';
import type { DeliveryTarget } from '@render-signal/contracts';
import { BlockedUrlError, checkUrlShape, guardedLookup, type NetworkPolicy } from '@render-signal/net-guard';
import { PermanentDeliveryError, RetryableDeliveryError, type AttemptFacts } from './errors';
import { classifyHttpFailure, isPermanentStatus, parseRetryAfter, responseExcerpt } from './failure';
import { signWebhook } from './signing';

export interface WebhookRequest {
  target: DeliveryTarget;
  webhookId: string;
  /** The serialised JSON body (UTF-8 bytes, sent as is). */
  body: Buffer;
  /** Overrides the deliverer's secret (e.g. per-target secrets later). */
  secret?: string;
}

export interface DeliverySuccess {
  status: number;
  duration_ms: number;
  response_excerpt: string;
  attempted_modes: Array<'json' | 'form'>;
  fallback_used: boolean;
}

export interface DelivererOptions extends NetworkPolicy {
  /** Standard Webhooks secret (`whsec_…`); the signature header is omitted when unset. */
  secret?: string;
  timeoutMs: number;
  userAgent: string;
  now?: () => number;
}

export interface WebhookDeliverer {
  /** One delivery attempt (with the 415 mode fallback inside it). Throws Retryable/PermanentDeliveryError. */
  deliverWebhook(request: WebhookRequest): Promise<DeliverySuccess>;
  close(): void;
}

const CONTENT_TYPES = { json: 'application/json', form: 'application/x-www-form-urlencoded' } as const;

/**
 * Creates the webhook sender: keep-alive agents shared by all deliveries of this process (connection
 * reuse matters at hundreds of deliveries per second), no redirects followed (a redirect could point
 * anywhere), and every connection's address checked against the network policy.
 */
export function createWebhookDeliverer(options: DelivererOptions): WebhookDeliverer {
  const now = options.now ?? Date.now;
  const agentOptions = { keepAlive: true, maxSockets: 256, maxFreeSockets: 64, timeout: 60_000 };
  const agent = { http: new HttpAgent(agentOptions), https: new HttpsAgent(agentOptions) };
  const policy: NetworkPolicy = { allowPrivateNetwork: options.allowPrivateNetwork };
  const dnsLookup = guardedLookup(policy);

  async function post(request: WebhookRequest, mode: 'json' | 'form', timeoutMs: number): Promise<Response<string>> {
    const timestamp = Math.floor(now() / 1000);
    const secret = request.secret ?? options.secret;
    const headers: Record<string, string> = {
      'content-type': `${CONTENT_TYPES[mode]}; charset=utf-8`,
      accept: 'application/json, text/plain, */*',
      'user-agent': options.userAgent,
      'webhook-id': request.webhookId,
      'webhook-timestamp': String(timestamp),
    };
    if (secret) headers['webhook-signature'] = signWebhook(secret, request.webhookId, timestamp, request.body);
    return got.post(request.target.url, {
      body: request.body,
      headers,
      agent,
      dnsLookup: dnsLookup as never,
      followRedirect: false,
      throwHttpErrors: false,
      retry: { limit: 0 },
      timeout: { request: timeoutMs },
      https: { rejectUnauthorized: request.target.tls_verify },
    });
  }

  async function deliverWebhook(request: WebhookRequest): Promise<DeliverySuccess> {
    const started = now();
    const target = request.target;
    try {
      checkUrlShape(target.url, policy);
    } catch (error) {
      throw new PermanentDeliveryError({ failure_reason: 'blocked_target', response_excerpt: (error as Error).message, duration_ms: 0 });
    }
    const modes: Array<'json' | 'form'> = target.fallback_on_415 ? [target.mode, target.mode === 'json' ? 'form' : 'json'] : [target.mode];
    const attempted: Array<'json' | 'form'> = [];
    const timeoutMs = target.timeout_ms ?? options.timeoutMs;
    let response: Response<string> | undefined;
    try {
      for (const mode of modes) {
        attempted.push(mode);
        response = await post(request, mode, timeoutMs);
        if (response.statusCode !== 415) break;
      }
    } catch (error) {
      throw networkFailure(error, now() - started);
    }
    const res = response!;
    const facts: AttemptFacts = {
      status: res.statusCode,
      duration_ms: now() - started,
      response_excerpt: responseExcerpt(res.body ?? ''),
      failure_reason: classifyHttpFailure(res.statusCode, res.body ?? ''),
    };
    if (res.statusCode >= 200 && res.statusCode < 300) {
      if (!target.require_success_flag || hasSuccessFlag(res.body)) {
        return {
          status: res.statusCode,
          duration_ms: facts.duration_ms,
          response_excerpt: facts.response_excerpt ?? '',
          attempted_modes: attempted,
          fallback_used: attempted.length > 1,
        };
      }
      throw new RetryableDeliveryError({ ...facts, failure_reason: 'remote_application_error' });
    }
    if (isPermanentStatus(res.statusCode)) throw new PermanentDeliveryError(facts);
    const retryAfter = res.statusCode === 429 || res.statusCode === 503 ? parseRetryAfter(res.headers['retry-after'], now()) : undefined;
    throw new RetryableDeliveryError(retryAfter === undefined ? facts : { ...facts, retry_after_ms: retryAfter });
  }

  return {
    deliverWebhook,
    close() {
      agent.http.destroy();
      agent.https.destroy();
    },
  };
}

function hasSuccessFlag(body: string): boolean {
  try {
    const parsed = JSON.parse(body) as { success?: unknown };
    return Boolean(parsed && parsed.success);
  } catch {
    return false;
  }
}

function networkFailure(error: unknown, durationMs: number): Error {
  const cause = error instanceof RequestError ? (error.cause ?? error) : error;
  if (cause instanceof BlockedUrlError) {
    return new PermanentDeliveryError({ failure_reason: 'blocked_target', response_excerpt: cause.message, duration_ms: durationMs });
  }
  const code = error instanceof RequestError ? error.code : undefined;
  const message = error instanceof Error ? error.message : String(error);
  return new RetryableDeliveryError({
    failure_reason: code === 'ETIMEDOUT' ? 'timeout' : 'network_error',
    response_excerpt: responseExcerpt(message),
    duration_ms: durationMs,
  });
}
