import type { ErrorRequestHandler, RequestHandler, Response } from 'express';
import type { Logger } from '@render-signal/observability';
import { describeError } from '@render-signal/observability';

/**
 * HTTP errors live only in the API. Every error answer has the original's shape
 * `{"success": false, "message": ...}` plus a machine-readable `code` (and field `errors` for 400s).
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: { errors?: Array<{ path: string; message: string; code?: string; position?: number }>; retryAfterSeconds?: number },
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export function sendError(res: Response, error: ApiError): void {
  if (error.details?.retryAfterSeconds !== undefined) res.setHeader('Retry-After', String(error.details.retryAfterSeconds));
  res.status(error.status).json({
    success: false,
    code: error.code,
    message: error.message,
    ...(error.details?.errors ? { errors: error.details.errors } : {}),
  });
}

export const notFound: RequestHandler = (req, _res, next) => next(new ApiError(404, 'not_found', `No route for ${req.method} ${req.path}`));

/** Maps body-parser failures to their proper status (never 500, unlike the original's catch-all handler). */
const BODY_PARSER_ERRORS: Record<string, [number, string, string]> = {
  'entity.too.large': [413, 'payload_too_large', 'Payload too large'],
  'entity.parse.failed': [400, 'invalid_json', 'Invalid JSON payload'],
  'encoding.unsupported': [415, 'unsupported_encoding', 'Unsupported content encoding'],
  'charset.unsupported': [415, 'unsupported_charset', 'Unsupported charset'],
  'request.aborted': [400, 'request_aborted', 'Request aborted'],
  'request.size.invalid': [400, 'invalid_body_size', 'Request size did not match Content-Length'],
};

export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (error, req, res, _next) => {
    if (res.headersSent) return;
    if (error instanceof ApiError) return sendError(res, error);
    const type = (error as { type?: string }).type;
    const mapped = type ? BODY_PARSER_ERRORS[type] : undefined;
    if (mapped) return sendError(res, new ApiError(mapped[0], mapped[1], mapped[2]));
    const status = (error as { status?: number; statusCode?: number }).status ?? (error as { statusCode?: number }).statusCode;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      return sendError(res, new ApiError(status, 'bad_request', (error as Error).message || 'Bad request'));
    }
    logger.error('http.unhandled_error', { method: req.method, path: req.path, ...describeError(error) });
    sendError(res, new ApiError(500, 'internal_error', 'Internal server error'));
  };
}
