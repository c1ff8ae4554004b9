import { isUtf8 } from 'node:buffer';
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { ingressPayloadSchema } from '@render-signal/contracts';
import { ingestEmail } from '@render-signal/ingest';
import { isRedisReady } from '@render-signal/queue';
import { ApiError } from '../http/api-error';
import { bearerTokenCheck } from '../http/bearer-auth';
import type { AppDeps } from '../app-deps';

/** Seconds the sender should wait before retrying after a 503 (Apps Script retries on its next run anyway). */
const RETRY_AFTER_S = 5;

/** The promise, or a rejection after `ms` (one timer, no race: this runs for every POST). */
function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`redis did not answer within ${ms} ms`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}

const JSON_MEDIA_TYPE = /^\s*application\/json\s*(?:;|$)/i;

/** `req.is('application/json')` without parsing the header each time: the media type, and a body announced. */
function isJsonBody(req: Request): boolean {
  const type = req.headers['content-type'];
  const hasBody = req.headers['transfer-encoding'] !== undefined || !Number.isNaN(Number(req.headers['content-length']));
  return type !== undefined && hasBody && JSON_MEDIA_TYPE.test(type);
}

export const INGRESS_PATH = '/api/ingress/gmail';

/** On every ingress answer, accepted or refused: a JSON body nobody caches or sniffs. */
const NO_STORE_HEADERS = { 'x-content-type-options': 'nosniff', 'cache-control': 'no-store' };
const ANSWER_HEADERS = { 'content-type': 'application/json; charset=utf-8', ...NO_STORE_HEADERS };

/**
 * POST /api/ingress/gmail — authenticate, validate, dedup + enqueue atomically, answer at once.
 * Check order: token (401) → content type (415) → size (413) → JSON (400) → fields (400) → Redis (503).
 * One handler (one router step per POST) that writes its 200 itself; every refusal goes through the app's
 * error handler, as on every other route.
 */
export function ingressHandler(deps: Pick<AppDeps, 'env' | 'logger' | 'metrics' | 'redis' | 'settings' | 'emailProducer'>): RequestHandler {
  const { env, logger } = deps;
  const checkToken = bearerTokenCheck(env.PROCESS_API_TOKEN);
  const parseJson = express.json({
    limit: Math.round(env.INGRESS_MAX_BODY_MB * 1024 * 1024),
    type: () => true,
    strict: false,
    verify: (_req, _res, buffer) => {
      if (!isUtf8(buffer)) throw new ApiError(400, 'invalid_encoding', 'Body is not valid UTF-8');
    },
  });
  const ingestDeps = {
    settings: deps.settings,
    emailProducer: deps.emailProducer,
    senderAllowlist: env.GMAIL_SENDER_ALLOWLIST,
    timeZone: env.POLLING_TIMEZONE,
    dedupWindowMs: env.DEDUP_WINDOW_DAYS * 86_400_000,
  };

  const answer = (res: Response, outcome: string, body: { status: string; email_id: string }) => {
    const json = JSON.stringify({ success: true, status: body.status, email_id: body.email_id });
    res.writeHead(200, { ...ANSWER_HEADERS, 'content-length': Buffer.byteLength(json) }).end(json);
    deps.metrics.ingressRequests.inc({ status: '200', outcome });
  };
  const refuse = (res: Response, next: NextFunction, error: unknown) => {
    res.set(NO_STORE_HEADERS);
    res.once('finish', () =>
      deps.metrics.ingressRequests.inc({ status: String(res.statusCode), outcome: String(res.locals.outcome ?? 'rejected') }),
    );
    next(error);
  };

  const handle = async (req: Request, res: Response): Promise<void> => {
    const body: unknown = req.body;
    if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new ApiError(400, 'invalid_json', 'Invalid JSON payload');
    const parsed = ingressPayloadSchema.safeParse(body);
    if (!parsed.success) {
      const errors = parsed.error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message }));
      const first = errors.find((e) => e.message.startsWith('Missing field')) ?? errors[0];
      const message = first?.message.startsWith('Missing field') ? first.message : `Invalid field: ${first?.path}`;
      throw new ApiError(400, 'invalid_payload', message, { errors });
    }
    if (!isRedisReady(deps.redis))
      throw new ApiError(503, 'redis_unavailable', 'Service unavailable', { retryAfterSeconds: RETRY_AFTER_S });
    let result;
    try {
      result = await withTimeout(ingestEmail(parsed.data, ingestDeps), env.INGRESS_REDIS_TIMEOUT);
    } catch (error) {
      logger.warn('ingress.unavailable', { error: (error as Error).message });
      throw new ApiError(503, 'redis_unavailable', 'Service unavailable', { retryAfterSeconds: RETRY_AFTER_S });
    }
    res.locals.outcome = result.status;
    // 409, not 200: the sender keeps the email and tries again later.
    if (result.status === 'ingress_disabled') throw new ApiError(409, 'ingress_disabled', 'Gmail ingress disabled');
    if (result.status === 'sending_disabled') throw new ApiError(409, 'sending_disabled', 'Webhook sending disabled');
    if (result.status === 'skipped_sender_not_allowed') {
      logger.info('ingress.sender_not_allowed', { email_id: result.email_id });
      return answer(res, result.status, result);
    }
    logger.info(result.status === 'queued' ? 'ingress.accepted' : 'ingress.duplicate', {
      email_id: result.email_id,
      status: result.status,
      job_id: result.job_id,
    });
    if (result.status !== 'queued') deps.metrics.dedupHits.inc();
    answer(res, result.status, result);
  };

  return (req, res, next) => {
    if (!checkToken(req)) return refuse(res, next, new ApiError(401, 'unauthorized', 'Unauthorized'));
    if (!isJsonBody(req)) return refuse(res, next, new ApiError(415, 'unsupported_media_type', 'Content-Type must be application/json'));
    parseJson(req, res, (parseError?: unknown) => {
      if (parseError) return refuse(res, next, parseError);
      handle(req, res).catch((error: unknown) => refuse(res, next, error));
    });
  };
}
