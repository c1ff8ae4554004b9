import type { Response } from 'express';
import { ConfigConflictError, ConfigValidationError } from '@render-signal/config-store';
import { assertPublicUrl, BlockedUrlError, type NetworkPolicy } from '@render-signal/net-guard';
import { unmaskUrl } from '@render-signal/observability';
import { ApiError } from '../../http/api-error';

/** A field error; our own checks add a `code` (e.g. `template_syntax`) and, for a template, the `position`. */
export interface FieldError {
  path: string;
  message: string;
  code?: string;
  position?: number;
}

/** A 400 with the original's `message` plus machine-readable field errors; `code` is the first error's own code, if any. */
export function invalid(message: string, errors: FieldError[] = []): ApiError {
  return new ApiError(400, errors[0]?.code ?? 'invalid_config', message, { errors });
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

/**
 * Webhook targets an operator saves are checked now, not only at delivery: https, and the host must not
 * resolve to a private, loopback or link-local address (unless ALLOW_PRIVATE_NETWORK). Every refused
 * target is listed in one 400 the operator can act on (the original answered 500 for some).
 */
export async function refusePrivateTargets(targets: Array<{ path: string; url: string }>, policy: NetworkPolicy): Promise<void> {
  const errors: Array<{ path: string; message: string }> = [];
  for (const { path, url } of targets) {
    try {
      await assertPublicUrl(url, policy);
    } catch (error) {
      errors.push({ path, message: error instanceof BlockedUrlError ? error.message : 'invalid target' });
    }
  }
  if (errors.length > 0) throw invalid(`${errors[0]!.path}: ${errors[0]!.message}`, errors);
}

/**
 * A URL field sent back as GET showed it (the read-modify-write of a client): a masked value (`https://host/***`)
 * stands for the stored URL it masks among `stored`; one that masks none is refused (400 `masked_url`), never
 * stored as a target. Any other value is returned as is.
 */
export function keepStoredUrl<T>(value: T, stored: ReadonlyArray<string | null | undefined>, path: string): T | string {
  if (typeof value !== 'string') return value;
  const url = unmaskUrl(value, stored);
  if (url !== undefined) return url;
  const message = `${path} : URL masquée (${value}) qui ne correspond à aucune URL enregistrée ; envoyez l’URL complète.`;
  throw new ApiError(400, 'masked_url', message, { errors: [{ path, message }] });
}
