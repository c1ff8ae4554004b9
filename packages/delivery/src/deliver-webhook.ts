import { Agent, request as undiciRequest, type Dispatcher } from 'undici';
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

/** Most of a response body kept (an excerpt and the success flag are all that is read of it). */
const MAX_RESPONSE_BYTES = 1024 * 1024;

interface WebhookResponse {
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/**
 * Creates the webhook sender: undici keep-alive pools shared by all deliveries of this process (connection
 * reuse matters at hundreds of deliveries per second; undici's `request` costs about a third of got's CPU
 * per POST, docs/benchmarks.md), no redirects followed (a redirect could point anywhere), and every
 * connection's address checked against the network policy.
 */
export function createWebhookDeliverer(options: DelivererOptions): WebhookDeliverer {
  const now = options.now ?? Date.now;
  const policy: NetworkPolicy = { allowPrivateNetwork: options.allowPrivateNetwork };
  const lookup = guardedLookup(policy);
  // One pool for verified TLS, one for targets saved with tls_verify=false (self-signed receivers).
  const pool = (rejectUnauthorized: boolean) =>
    new Agent({ connections: 256, connect: { lookup, rejectUnauthorized, timeout: options.timeoutMs } });
  const agents = { verified: pool(true), unverified: pool(false) };

  async function post(request: WebhookRequest, mode: 'json' | 'form', timeoutMs: number): Promise<WebhookResponse> {
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
    const dispatcher: Dispatcher = request.target.tls_verify ? agents.verified : agents.unverified;
    // The whole attempt (connect, send, answer, body) is bounded by the target's timeout.
    const signal = AbortSignal.timeout(timeoutMs);
    const res = await undiciRequest(request.target.url, { method: 'POST', body: request.body, headers, dispatcher, signal });
    return { statusCode: res.statusCode, headers: res.headers, body: await readBody(res.body) };
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
    let response: WebhookResponse | undefined;
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
      response_excerpt: responseExcerpt(res.body),
      failure_reason: classifyHttpFailure(res.statusCode, res.body),
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
    const header = res.headers['retry-after'];
    const retryAfter =
      res.statusCode === 429 || res.statusCode === 503 ? parseRetryAfter(Array.isArray(header) ? header[0] : header, now()) : undefined;
    throw new RetryableDeliveryError(retryAfter === undefined ? facts : { ...facts, retry_after_ms: retryAfter });
  }

  return {
    deliverWebhook,
    close() {
      void agents.verified.destroy().catch(() => undefined);
      void agents.unverified.destroy().catch(() => undefined);
    },
  };
}

/** The body as text, at most MAX_RESPONSE_BYTES of it (the rest is discarded, not buffered). */
async function readBody(body: Dispatcher.ResponseData['body']): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    if (size < MAX_RESPONSE_BYTES) chunks.push(chunk);
    size += chunk.length;
  }
  if (chunks.length === 1) return chunks[0]!.toString('utf8', 0, Math.min(size, MAX_RESPONSE_BYTES));
  return Buffer.concat(chunks).toString('utf8', 0, Math.min(size, MAX_RESPONSE_BYTES));
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
  const cause = error instanceof Error && error.cause instanceof BlockedUrlError ? error.cause : error;
  if (cause instanceof BlockedUrlError) {
    return new PermanentDeliveryError({ failure_reason: 'blocked_target', response_excerpt: cause.message, duration_ms: durationMs });
  }
  const { name, code } = (error ?? {}) as { name?: string; code?: string };
  const timedOut = name === 'TimeoutError' || (code !== undefined && TIMEOUT_CODES.has(code));
  const message = error instanceof Error ? error.message : String(error);
  return new RetryableDeliveryError({
    failure_reason: timedOut ? 'timeout' : 'network_error',
    response_excerpt: responseExcerpt(timedOut && name === 'TimeoutError' ? 'The request timed out' : message),
    duration_ms: durationMs,
  });
}

/** undici's own timeouts (connect, headers, body), as well as the attempt's AbortSignal.timeout. */
const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT']);
