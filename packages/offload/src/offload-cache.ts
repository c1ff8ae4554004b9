/**
 * Content-addressed transfer cache: one Redis key per (bucket, normalised source URL) with a TTL,
 * so a link seen in several emails is transferred once. One key per source (rather than one hash)
 * because Redis hash fields cannot carry their own TTL before Redis 7.4.
 */

/** The subset of an ioredis client the cache uses (an ioredis `Redis` or `Cluster` instance fits). */
export interface OffloadCacheRedis {
  get(key: string): Promise<string | null>;
  set(key: string, value: string, expiryMode: 'EX', seconds: number): Promise<unknown>;
  del(...keys: string[]): Promise<number>;
}

export interface CachedOffload {
  /** The public URL the Worker answered (worker mode) or the one built for the object (direct mode). */
  r2_url: string;
  object_key: string;
  mode: 'worker' | 'direct';
  original_filename?: string;
  bytes?: number;
  created_at: string;
}

export function offloadCacheKey(prefix: string, bucket: string, sourceSha256: string): string {
  return `${prefix}:offload:cache:${bucket}:${sourceSha256}`;
}

function parseEntry(raw: string | null): CachedOffload | undefined {
  if (!raw) return undefined;
  try {
    const value = JSON.parse(raw) as Partial<CachedOffload>;
    if (typeof value.r2_url !== 'string' || typeof value.object_key !== 'string') return undefined;
    if (value.mode !== 'worker' && value.mode !== 'direct') return undefined;
    return value as CachedOffload;
  } catch {
    return undefined;
  }
}

export class OffloadCache {
  constructor(
    private readonly redis: OffloadCacheRedis,
    private readonly prefix: string,
    private readonly bucket: string,
    private readonly ttlSeconds: number,
  ) {}

  async get(sourceSha256: string): Promise<CachedOffload | undefined> {
    return parseEntry(await this.redis.get(offloadCacheKey(this.prefix, this.bucket, sourceSha256)));
  }

  async put(sourceSha256: string, entry: CachedOffload): Promise<void> {
    await this.redis.set(offloadCacheKey(this.prefix, this.bucket, sourceSha256), JSON.stringify(entry), 'EX', this.ttlSeconds);
  }

  async forget(sourceSha256: string): Promise<void> {
    await this.redis.del(offloadCacheKey(this.prefix, this.bucket, sourceSha256));
  }
}
