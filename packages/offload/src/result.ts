/**
 * What an offload answers. Expected failures are values, never exceptions: the caller keeps the
 * link's source URLs (the original's "R2 failures never block the webhook").
 */
export type OffloadFailureReason =
  /** Offload switched off (or not configured for the chosen mode). */
  | 'disabled'
  /** Source refused by policy: not https, host off the allowlist, private address (also after a redirect). */
  | 'source_not_allowed'
  /** The source answered a non-2xx status. */
  | 'source_status'
  /** The source did not answer (or went silent) within the provider timeout. */
  | 'source_timeout'
  /** Network failure talking to the source (refused, reset, DNS failure). */
  | 'source_error'
  /** Over the size cap, by Content-Length or counted while streaming. */
  | 'too_large'
  /** The S3-compatible store refused or failed (credentials, missing bucket, unreachable). */
  | 'store_error'
  /** The Worker was unreachable or answered a non-200 status. */
  | 'worker_error'
  /** The Worker did not answer within the provider timeout. */
  | 'worker_timeout'
  /** The Worker answered 200 without `success: true` and a string `r2_url`, or not JSON. */
  | 'worker_bad_answer'
  /** `ctx.deadlineMs` was reached before the transfer finished. */
  | 'deadline';

export type OffloadResult =
  | { ok: true; r2_url: string; original_filename?: string; bytes?: number; cached: boolean }
  | { ok: false; reason: OffloadFailureReason; detail?: string };

export type OffloadFailure = Extract<OffloadResult, { ok: false }>;

/** Thrown inside a transfer to stop it with a known reason; turned into a result at the boundary. */
export class OffloadAbort extends Error {
  constructor(
    readonly reason: OffloadFailureReason,
    readonly detail?: string,
  ) {
    super(detail ? `${reason}: ${detail}` : reason);
    this.name = 'OffloadAbort';
  }
}

export function failure(reason: OffloadFailureReason, detail?: string): OffloadFailure {
  return detail === undefined ? { ok: false, reason } : { ok: false, reason, detail };
}
