export { createOffloader, type Offloader, type OffloaderDeps, type OffloadContext, type OffloadLink } from './offloader';
export type { OffloadFailureReason, OffloadResult, OffloadFailure } from './result';
export {
  DEFAULT_ALLOWED_HOSTS,
  DEFAULT_CACHE_TTL_SECONDS,
  DEFAULT_MAX_BYTES,
  DEFAULT_PART_SIZE_BYTES,
  DEFAULT_PRESIGN_EXPIRY_SECONDS,
  DEFAULT_QUEUE_SIZE,
  offloadTimeoutFor,
  type OffloadMode,
  type OffloadS3Settings,
  type OffloadSettings,
  type OffloadTimeoutSettings,
} from './settings';
export { buildObjectKey, filenameFromUrl, normalizeSourceUrl } from './source-url';
export { isAllowedSourceHost } from './source-policy';
export { offloadCacheKey, type OffloadCacheRedis } from './offload-cache';
export { parseWorkerAnswer, type WorkerFetchRequest } from './worker-transfer';
export { createStoreClient } from './direct-transfer';
