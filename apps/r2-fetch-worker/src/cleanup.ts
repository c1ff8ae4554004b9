// The cron side: objects are transit copies for the webhook receiver, so anything older than
// MAX_AGE_DAYS is deleted. The listing is paginated; deletes go one page (at most 1000 keys) at a time.
// R2's list cursor is positional on keys, so deleting already-listed keys does not skip any.

export interface CleanupResult {
  scanned: number;
  deleted: number;
}

const DAY_MS = 24 * 60 * 60 * 1000;

export function cleanupCutoff(now: number, maxAgeDays: number): Date {
  return new Date(now - maxAgeDays * DAY_MS);
}

export async function deleteObjectsUploadedBefore(bucket: R2Bucket, cutoff: Date, pageSize: number): Promise<CleanupResult> {
  const result: CleanupResult = { scanned: 0, deleted: 0 };
  let cursor: string | undefined;
  do {
    const page = await bucket.list(cursor === undefined ? { limit: pageSize } : { limit: pageSize, cursor });
    result.scanned += page.objects.length;
    const expired = page.objects.filter((object) => object.uploaded.getTime() < cutoff.getTime()).map((object) => object.key);
    if (expired.length > 0) {
      await bucket.delete(expired);
      result.deleted += expired.length;
    }
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor !== undefined);
  return result;
}
