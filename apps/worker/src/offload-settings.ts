import type { WorkerEnv } from '@render-signal/config';
import type { OffloadSettings } from '@render-signal/offload';

/** Offload settings from the worker env (the original's R2_* names plus OFFLOAD_* / S3_*). */
export function offloadSettingsFrom(env: WorkerEnv): OffloadSettings {
  return {
    enabled: env.R2_FETCH_ENABLED,
    mode: env.OFFLOAD_MODE,
    endpoint: env.R2_FETCH_ENDPOINT,
    token: env.R2_FETCH_TOKEN,
    bucket: env.R2_BUCKET_NAME ?? '',
    publicBaseUrl: env.R2_PUBLIC_BASE_URL,
    s3:
      env.S3_ENDPOINT && env.S3_ACCESS_KEY_ID && env.S3_SECRET_ACCESS_KEY
        ? { endpoint: env.S3_ENDPOINT, accessKeyId: env.S3_ACCESS_KEY_ID, secretAccessKey: env.S3_SECRET_ACCESS_KEY, region: env.S3_REGION }
        : undefined,
    presignExpirySeconds: Math.round(env.OFFLOAD_PRESIGN_EXPIRY / 1000),
    maxBytes: Math.round(env.OFFLOAD_MAX_MB * 1024 * 1024),
    timeouts: { defaultMs: env.OFFLOAD_TIMEOUT, dropboxFolderMs: env.OFFLOAD_DROPBOX_FOLDER_TIMEOUT },
    cacheTtlSeconds: Math.round(env.OFFLOAD_CACHE_TTL / 1000),
    keyPrefix: env.QUEUE_PREFIX,
    allowPrivateNetwork: env.ALLOW_PRIVATE_NETWORK,
  };
}
