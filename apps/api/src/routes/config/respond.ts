import type { Response } from 'express';
import { ConfigConflictError, ConfigValidationError } from '@render-signal/config-store';
import { ApiError } from '../../http/api-error';

/** A 400 with the original's `message` plus machine-readable field errors. */
export function invalid(message: string, errors: Array<{ path: string; message: string }> = []): ApiError {
  return new ApiError(400, 'invalid_config', message, { errors });
}

/** Store failures as HTTP: a stale revision is 409, a refused document 400 (never 500). */
export function storeError(error: unknown): unknown {
  if (error instanceof ConfigConflictError) return new ApiError(409, 'config_conflict', error.message);
  if (error instanceof ConfigValidationError) return invalid(error.message, error.issues);
  return error;
}

/** The optimistic-concurrency revision a client may send back (`_revision`), if any. */
export function expectedRevision(body: unknown): number | undefined {
  const value = (body as { _revision?: unknown } | undefined)?._revision;
  return typeof value === 'number' && Number.isInteger(value) ? value : undefined;
}

export function ok(res: Response, body: Record<string, unknown>, status = 200): void {
  res.status(status).json({ success: true, ...body });
}
