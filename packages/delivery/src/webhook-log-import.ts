import type { Cluster, Redis } from 'ioredis';
import { webhookLogKey, type WebhookLogEntry } from './webhook-log';

/**
 * Adds past entries (the original server's history, carried by `npm run migrate`) to the log. The list is read
 * newest first and `list()` stops at the first entry past its cutoff, so carried entries are merged in date order
 * rather than pushed on top. Entries already there (same `import_key`) are skipped: a second run adds nothing.
 * The rewrite is an optimistic transaction (WATCH): a worker appending meanwhile makes it start over.
 */
export async function importWebhookLogEntries(
  redis: Redis | Cluster,
  prefix: string,
  entries: readonly WebhookLogEntry[],
  maxEntries: number,
): Promise<{ added: number }> {
  const key = webhookLogKey(prefix);
  for (let attempt = 0; attempt < 20; attempt++) {
    await redis.watch(key);
    const current = await redis.lrange(key, 0, -1);
    const known = new Set<string>();
    const rows = current.map((line) => {
      let at = Number.NaN;
      try {
        const entry = JSON.parse(line) as Partial<WebhookLogEntry>;
        if (typeof entry.import_key === 'string') known.add(entry.import_key);
        at = Date.parse(entry.timestamp ?? '');
      } catch {
        // kept where it sorts (as "now"): never dropped by an import
      }
      return { line, at };
    });
    const fresh = entries.filter((e) => !e.import_key || !known.has(e.import_key));
    if (fresh.length === 0) {
      await redis.unwatch();
      return { added: 0 };
    }
    const now = Date.now();
    const freshRows = fresh.map((e) => ({ line: JSON.stringify(e), at: Date.parse(e.timestamp), fresh: true }));
    const merged = [...rows.map((r) => ({ ...r, fresh: false })), ...freshRows]
      .map((row, index) => ({ ...row, at: Number.isNaN(row.at) ? now : row.at, index }))
      .sort((a, b) => b.at - a.at || a.index - b.index)
      .slice(0, maxEntries);
    const multi = redis.multi().del(key);
    for (let start = 0; start < merged.length; start += 500) multi.rpush(key, ...merged.slice(start, start + 500).map((r) => r.line));
    // Older than the newest `maxEntries` entries: trimmed away at once, so not counted as added.
    if (await multi.exec()) return { added: merged.filter((r) => r.fresh).length };
  }
  throw new Error('webhook log kept changing during the import: try again');
}

/** Which import keys are already in the log. */
export async function importedWebhookLogKeys(redis: Redis | Cluster, prefix: string): Promise<Set<string>> {
  const keys = new Set<string>();
  for (const line of await redis.lrange(webhookLogKey(prefix), 0, -1)) {
    try {
      const entry = JSON.parse(line) as Partial<WebhookLogEntry>;
      if (typeof entry.import_key === 'string') keys.add(entry.import_key);
    } catch {
      // not an imported entry
    }
  }
  return keys;
}
