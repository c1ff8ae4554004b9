/**
 * Offload settings as plain data. The lead's env module maps R2_FETCH_ENABLED, R2_FETCH_ENDPOINT,
 * R2_FETCH_TOKEN, R2_BUCKET_NAME, R2_PUBLIC_BASE_URL, OFFLOAD_MODE, S3_ENDPOINT, S3_ACCESS_KEY_ID,
 * S3_SECRET_ACCESS_KEY (and ALLOW_PRIVATE_NETWORK) onto this shape; the package never reads the environment.
 */
export type OffloadMode = 'worker' | 'direct';

export interface OffloadS3Settings {
  /** S3-compatible endpoint, e.g. `https://<account>.r2.cloudflarestorage.com` or a MinIO URL. */
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** R2 wants `auto`; other stores their region. Defaults to `auto`. */
  region?: string;
}

export interface OffloadTimeoutSettings {
  /** Default per-request timeout in ms (the original's 15 s). */
  defaultMs?: number;
  /** Dropbox `/scl/fo/` shared folders, which Dropbox zips on the fly (the original's 120 s). */
  dropboxFolderMs?: number;
  /** Per-provider override of the default, keyed by lower-case provider name (`fromsmash`: 30000). */
  byProvider?: Record<string, number>;
}

export interface OffloadSettings {
  /** False → every offload answers `{ ok: false, reason: 'disabled' }` without any I/O. */
  enabled: boolean;
  mode: OffloadMode;
  /** Worker mode: the remote-fetch Worker URL (R2_FETCH_ENDPOINT). */
  endpoint?: string;
  /** Worker mode: shared secret sent as X-R2-FETCH-TOKEN (R2_FETCH_TOKEN). */
  token?: string;
  /** Bucket name (R2_BUCKET_NAME): sent to the Worker, written to in direct mode. */
  bucket: string;
  /** Public base URL of the bucket (R2_PUBLIC_BASE_URL); direct mode presigns GETs when absent. */
  publicBaseUrl?: string;
  /** Direct mode: the store's endpoint and credentials. */
  s3?: OffloadS3Settings;
  /** Lifetime of presigned GET URLs in direct mode without a public base URL. Default 7 days (the SigV4 maximum). */
  presignExpirySeconds?: number;
  /** Largest source accepted, in bytes. Default 2 GiB. */
  maxBytes?: number;
  timeouts?: OffloadTimeoutSettings;
  /** How long a transferred source stays reusable (Redis TTL). Default 7 days. */
  cacheTtlSeconds?: number;
  /** Redis key prefix; cache keys are `<prefix>:offload:cache:<bucket>:<sha256(source)>`. Default `rs`. */
  keyPrefix?: string;
  /** Source hosts allowed (the host itself or any subdomain). Default: the original's providers. */
  allowedHosts?: readonly string[];
  /** ALLOW_PRIVATE_NETWORK: permits http:// and private/loopback addresses (local runs and tests only). */
  allowPrivateNetwork?: boolean;
  /** Direct mode multipart tuning (see direct-transfer.ts for why these defaults). */
  partSizeBytes?: number;
  queueSize?: number;
}

export const DEFAULT_ALLOWED_HOSTS: readonly string[] = [
  'dropbox.com',
  'dropboxusercontent.com',
  'fromsmash.com',
  'swisstransfer.com',
  'wetransfer.com',
];

export const DEFAULT_MAX_BYTES = 2 * 1024 ** 3;
export const DEFAULT_CACHE_TTL_SECONDS = 7 * 24 * 3600;
export const DEFAULT_PRESIGN_EXPIRY_SECONDS = 7 * 24 * 3600;
export const DEFAULT_TIMEOUT_MS = 15_000;
export const DEFAULT_DROPBOX_FOLDER_TIMEOUT_MS = 120_000;
/** 8 MiB parts: above S3's 5 MiB minimum, and 2 GiB / 8 MiB = 256 parts, far below the 10 000-part limit. */
export const DEFAULT_PART_SIZE_BYTES = 8 * 1024 * 1024;
/** 3 parts in flight: enough to keep a link busy, while memory stays ≈ (queueSize + 1) × partSize = 32 MiB. */
export const DEFAULT_QUEUE_SIZE = 3;

function isDropboxFolder(provider: string, url: string): boolean {
  return provider.toLowerCase() === 'dropbox' && url.includes('/scl/fo/');
}

/**
 * The original's per-link timeout: 120 s for Dropbox shared folders (zipped on demand, slow to start),
 * 15 s for everything else; both configurable, plus per-provider overrides.
 */
export function offloadTimeoutFor(provider: string, url: string, settings: Pick<OffloadSettings, 'timeouts'> = {}): number {
  const timeouts = settings.timeouts ?? {};
  if (isDropboxFolder(provider, url)) return timeouts.dropboxFolderMs ?? DEFAULT_DROPBOX_FOLDER_TIMEOUT_MS;
  return timeouts.byProvider?.[provider.toLowerCase()] ?? timeouts.defaultMs ?? DEFAULT_TIMEOUT_MS;
}
