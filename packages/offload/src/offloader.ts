import type { S3Client } from '@aws-sdk/client-s3';
import { BlockedUrlError } from '@render-signal/net-guard';
import { describeError, silentLogger, type Logger } from '@render-signal/observability';
import { createStoreClient, objectExists, publicUrlFor, transferDirect, type ObjectStore } from './direct-transfer';
import { OffloadCache, type CachedOffload, type OffloadCacheRedis } from './offload-cache';
import { OffloadAbort, failure, type OffloadFailure, type OffloadResult } from './result';
import {
  DEFAULT_CACHE_TTL_SECONDS,
  DEFAULT_MAX_BYTES,
  DEFAULT_PART_SIZE_BYTES,
  DEFAULT_PRESIGN_EXPIRY_SECONDS,
  DEFAULT_QUEUE_SIZE,
  offloadTimeoutFor,
  type OffloadSettings,
} from './settings';
import { assertSourceAllowed, sourcePolicyFrom } from './source-policy';
import { buildObjectKey, filenameFromUrl, normalizeSourceUrl, sha256Hex } from './source-url';
import { publicObjectExists, transferViaWorker } from './worker-transfer';

export interface OffloadLink {
  provider: string;
  raw_url: string;
}

export interface OffloadContext {
  emailId: string;
  /** Absolute epoch ms bounding the whole offload (cache check + transfer). */
  deadlineMs?: number;
}

export interface Offloader {
  /** Never throws for an expected failure: `{ ok: false, reason }` means "keep the source URLs". */
  offload(link: OffloadLink, ctx: OffloadContext): Promise<OffloadResult>;
}

export interface OffloaderDeps {
  /** ioredis instance for the transfer cache; without it every offload transfers. */
  redis?: OffloadCacheRedis;
  logger?: Logger;
  /** Direct mode: an S3 client to use instead of one built from `settings.s3`. */
  s3Client?: S3Client;
  now?: () => number;
}

interface PreparedLink {
  provider: string;
  sourceUrl: string;
  objectKey: string;
  sourceSha: string;
}

type Transfer = (link: PreparedLink, ctx: OffloadContext, signal: AbortSignal) => Promise<Omit<CachedOffload, 'created_at'>>;
type CacheCheck = (entry: CachedOffload, signal: AbortSignal) => Promise<string | undefined>;

/** Time allowed to check that a cached object still exists before deciding to transfer again. */
const CACHE_CHECK_TIMEOUT_MS = 5_000;

/**
 * The offload stage's single entry point, behind which the two modes sit:
 * - `worker`: the original's Cloudflare Worker contract (the Worker pulls the source into R2);
 * - `direct`: this process streams the source into any S3-compatible store.
 * Both share normalisation, the source policy, the content-addressed cache and the deadline.
 */
export function createOffloader(settings: OffloadSettings, deps: OffloaderDeps = {}): Offloader {
  const logger = deps.logger ?? silentLogger;
  const now = deps.now ?? Date.now;
  const policy = sourcePolicyFrom(settings);
  const cache = deps.redis
    ? new OffloadCache(
        deps.redis,
        settings.keyPrefix ?? 'rs',
        settings.bucket || 'default',
        settings.cacheTtlSeconds ?? DEFAULT_CACHE_TTL_SECONDS,
      )
    : undefined;

  const unavailable = whyUnavailable(settings, deps);
  let transfer: Transfer;
  let validateCached: CacheCheck;
  if (settings.mode === 'direct' && !unavailable) {
    const store: ObjectStore = {
      client: deps.s3Client ?? createStoreClient(settings.s3!),
      bucket: settings.bucket,
      publicBaseUrl: settings.publicBaseUrl,
      presignExpirySeconds: settings.presignExpirySeconds ?? DEFAULT_PRESIGN_EXPIRY_SECONDS,
    };
    transfer = async (link, _ctx, signal) => {
      const result = await transferDirect({
        sourceUrl: link.sourceUrl,
        objectKey: link.objectKey,
        fallbackFilename: filenameFromUrl(link.sourceUrl),
        policy,
        timeoutMs: offloadTimeoutFor(link.provider, link.sourceUrl, settings),
        maxBytes: settings.maxBytes ?? DEFAULT_MAX_BYTES,
        partSize: settings.partSizeBytes ?? DEFAULT_PART_SIZE_BYTES,
        queueSize: settings.queueSize ?? DEFAULT_QUEUE_SIZE,
        store,
        signal,
      });
      return {
        r2_url: await publicUrlFor(store, link.objectKey),
        object_key: link.objectKey,
        mode: 'direct',
        original_filename: result.originalFilename,
        bytes: result.bytes,
      };
    };
    // Presigned URLs expire, so a hit gets a fresh one rather than the cached string.
    validateCached = async (entry, signal) =>
      (await objectExists(store, entry.object_key, signal)) ? publicUrlFor(store, entry.object_key) : undefined;
  } else {
    transfer = async (link, ctx, signal) => {
      const answer = await transferViaWorker({
        endpoint: settings.endpoint!,
        token: settings.token!,
        body: {
          source_url: link.sourceUrl,
          object_key: link.objectKey,
          bucket: settings.bucket,
          provider: link.provider,
          ...(ctx.emailId ? { email_id: ctx.emailId } : {}),
        },
        timeoutMs: offloadTimeoutFor(link.provider, link.sourceUrl, settings),
        signal,
      });
      return { ...answer, object_key: link.objectKey, mode: 'worker' };
    };
    validateCached = async (entry, signal) =>
      (await publicObjectExists(entry.r2_url, policy, CACHE_CHECK_TIMEOUT_MS, signal)) ? entry.r2_url : undefined;
  }

  async function fromCache(link: PreparedLink, signal: AbortSignal, log: Logger): Promise<OffloadResult | undefined> {
    if (!cache) return undefined;
    try {
      const entry = await cache.get(link.sourceSha);
      if (!entry || entry.mode !== settings.mode) return undefined;
      const url = await validateCached(entry, signal);
      if (!url) {
        log.info('offload.cache_stale', { object_key: entry.object_key });
        await cache.forget(link.sourceSha);
        return undefined;
      }
      return {
        ok: true,
        r2_url: url,
        cached: true,
        ...(entry.original_filename ? { original_filename: entry.original_filename } : {}),
        ...(entry.bytes !== undefined ? { bytes: entry.bytes } : {}),
      };
    } catch (error) {
      // The cache only saves work: when Redis is unavailable, transfer as if it were empty.
      log.warn('offload.cache_unavailable', describeError(error));
      return undefined;
    }
  }

  async function remember(link: PreparedLink, entry: Omit<CachedOffload, 'created_at'>, log: Logger): Promise<void> {
    if (!cache) return;
    try {
      await cache.put(link.sourceSha, { ...entry, created_at: new Date(now()).toISOString() });
    } catch (error) {
      log.warn('offload.cache_unavailable', describeError(error));
    }
  }

  async function run(link: PreparedLink, ctx: OffloadContext, log: Logger): Promise<OffloadResult> {
    try {
      assertSourceAllowed(link.sourceUrl, policy);
    } catch (error) {
      if (error instanceof BlockedUrlError) return failure('source_not_allowed', `${error.reason}: ${error.message}`);
      throw error;
    }

    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    if (ctx.deadlineMs !== undefined) {
      const remaining = ctx.deadlineMs - now();
      if (remaining <= 0) return failure('deadline', 'deadline already passed');
      timer = setTimeout(() => controller.abort(), remaining);
    }
    try {
      const cached = await fromCache(link, controller.signal, log);
      if (cached) return cached;
      if (controller.signal.aborted) return failure('deadline', 'deadline reached during the cache check');
      const entry = await transfer(link, ctx, controller.signal);
      await remember(link, entry, log);
      return {
        ok: true,
        r2_url: entry.r2_url,
        cached: false,
        ...(entry.original_filename ? { original_filename: entry.original_filename } : {}),
        ...(entry.bytes !== undefined ? { bytes: entry.bytes } : {}),
      };
    } catch (error) {
      if (error instanceof OffloadAbort) return failure(error.reason, error.detail);
      if (controller.signal.aborted) return failure('deadline', describeError(error).error);
      return failure(settings.mode === 'direct' ? 'store_error' : 'worker_error', describeError(error).error);
    } finally {
      clearTimeout(timer);
    }
  }

  return {
    async offload(link, ctx) {
      const log = logger.child({ email_id: ctx.emailId, provider: link.provider, mode: settings.mode });
      if (unavailable) {
        log.debug('offload.skipped', { reason: unavailable });
        return failure('disabled', unavailable);
      }
      const started = now();
      let prepared: PreparedLink | undefined;
      let result: OffloadResult;
      try {
        const sourceUrl = normalizeSourceUrl(link.provider, link.raw_url);
        prepared = {
          provider: link.provider,
          sourceUrl,
          objectKey: buildObjectKey(link.provider, sourceUrl),
          sourceSha: sha256Hex(sourceUrl),
        };
        result = await run(prepared, ctx, log);
      } catch (error) {
        // Unexpected (a bug, not a transfer failure): still a failure value, so the webhook leaves.
        result = failure(settings.mode === 'direct' ? 'store_error' : 'worker_error', describeError(error).error);
      }
      const fields = { source_url: prepared?.sourceUrl ?? link.raw_url, duration_ms: now() - started };
      if (result.ok) {
        log.info('offload.completed', { ...fields, object_key: prepared?.objectKey, bytes: result.bytes, cached: result.cached });
      } else {
        logFailure(log, fields, result);
      }
      return result;
    },
  };
}

function logFailure(log: Logger, fields: Record<string, unknown>, result: OffloadFailure): void {
  log.warn('offload.failed', { ...fields, reason: result.reason, detail: result.detail });
}

/** Why this configuration cannot offload (the link then keeps its source URLs), or undefined. */
function whyUnavailable(settings: OffloadSettings, deps: OffloaderDeps): string | undefined {
  if (!settings.enabled) return 'offload is disabled';
  // As in the original, worker mode needs only endpoint and token (the Worker may have its own bucket binding).
  if (settings.mode === 'worker' && (!settings.endpoint || !settings.token)) return 'worker mode needs an endpoint and a token';
  if (settings.mode === 'direct' && (!settings.bucket || (!deps.s3Client && !settings.s3)))
    return 'direct mode needs a bucket and S3 settings';
  return undefined;
}
