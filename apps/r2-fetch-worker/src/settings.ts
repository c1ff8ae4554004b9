// Worker configuration, read from the Worker's vars and secrets (wrangler.toml [vars], `wrangler secret put`).
// Pure parsing: the Env object is passed in, so the rules are testable without a runtime.

export const DEFAULT_ALLOWED_HOSTS = [
  'dropbox.com',
  'dropboxusercontent.com',
  'fromsmash.com',
  'swisstransfer.com',
  'wetransfer.com',
] as const;

const MIB = 1024 * 1024;
export const DEFAULT_MAX_BYTES = 2 * 1024 * MIB;
export const DEFAULT_MAX_AGE_DAYS = 7;
// R2 multipart parts must all be the same size (except the last) and at least 5 MiB.
export const MIN_PART_BYTES = 5 * MIB;
export const DEFAULT_PART_BYTES = 8 * MIB;
// R2 list() returns at most 1000 keys a page, and delete() accepts at most 1000 keys a call.
export const MAX_LIST_PAGE_SIZE = 1000;

/** The raw string vars and secrets, as the runtime hands them over (all optional: a missing one gets its default). */
export interface WorkerVars {
  R2_FETCH_TOKEN?: string;
  PUBLIC_BASE_URL?: string;
  BUCKET_NAME?: string;
  ALLOWED_HOSTS?: string;
  ALLOW_HTTP_SOURCES?: string;
  MAX_BYTES?: string;
  MAX_AGE_DAYS?: string;
  MULTIPART_PART_BYTES?: string;
  CLEANUP_PAGE_SIZE?: string;
}

export interface WorkerSettings {
  token: string | undefined;
  publicBaseUrl: string | undefined;
  bucketName: string | undefined;
  allowedHosts: string[];
  allowHttpSources: boolean;
  maxBytes: number;
  maxAgeDays: number;
  partBytes: number;
  cleanupPageSize: number;
}

function nonEmpty(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed ? trimmed : undefined;
}

function positiveNumber(value: string | undefined, fallback: number): number {
  const text = nonEmpty(value);
  if (text === undefined) return fallback;
  const parsed = Number(text);
  return Number.isFinite(parsed) && parsed > 0 ? parsed : fallback;
}

/** `ALLOWED_HOSTS` is a comma- or whitespace-separated list of registrable hosts; each also allows its subdomains. */
export function parseAllowedHosts(value: string | undefined): string[] {
  const hosts = (value ?? '')
    .split(/[\s,]+/)
    .map((host) =>
      host
        .trim()
        .toLowerCase()
        .replace(/^\*?\./, '')
        .replace(/\.$/, ''),
    )
    .filter((host) => host.length > 0);
  return hosts.length > 0 ? hosts : [...DEFAULT_ALLOWED_HOSTS];
}

export function readSettings(vars: WorkerVars): WorkerSettings {
  const publicBaseUrl = nonEmpty(vars.PUBLIC_BASE_URL);
  return {
    token: nonEmpty(vars.R2_FETCH_TOKEN),
    publicBaseUrl: publicBaseUrl?.replace(/\/+$/, ''),
    bucketName: nonEmpty(vars.BUCKET_NAME),
    allowedHosts: parseAllowedHosts(vars.ALLOWED_HOSTS),
    allowHttpSources: /^(1|true|yes|on)$/i.test(vars.ALLOW_HTTP_SOURCES?.trim() ?? ''),
    maxBytes: Math.floor(positiveNumber(vars.MAX_BYTES, DEFAULT_MAX_BYTES)),
    maxAgeDays: positiveNumber(vars.MAX_AGE_DAYS, DEFAULT_MAX_AGE_DAYS),
    partBytes: Math.max(MIN_PART_BYTES, Math.floor(positiveNumber(vars.MULTIPART_PART_BYTES, DEFAULT_PART_BYTES))),
    cleanupPageSize: Math.min(MAX_LIST_PAGE_SIZE, Math.floor(positiveNumber(vars.CLEANUP_PAGE_SIZE, MAX_LIST_PAGE_SIZE))),
  };
}
