import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import type { Skip } from './map';

/**
 * Reading the original deployment: its Redis (under its prefix, `r:ss:` by default) or its `debug/` folder of
 * JSON files. Only reads: GET, SCAN, PTTL, LRANGE, EXISTS, TYPE — nothing here can write to the old store.
 */

export const SETTINGS_KEYS = ['webhook_config', 'processing_prefs', 'runtime_flags', 'routing_rules'] as const;
export type OriginalDocumentName = (typeof SETTINGS_KEYS)[number];

export interface Located<T> {
  /** Where it was read, e.g. `r:ss:config:webhook_config` or `debug/webhook_config.json`. */
  from: string;
  value: T;
}

export interface OriginalSnapshot {
  /** The old deployment, described for the report (passwords masked). */
  origin: string;
  documents: Partial<Record<OriginalDocumentName, Located<Record<string, unknown>>>>;
  magicLinks?: Located<unknown>;
  processed: Located<Array<{ emailId: string; pttlMs: number }>> | { from: string; unavailable: string };
  logs: Array<Located<unknown[]>>;
  /** Read problems (a file or key that is not JSON, not an object…). */
  unreadable: Skip[];
  /** Things found and deliberately left (legacy keys the original no longer read). */
  notes: string[];
}

function parseObject(text: string, from: string, unreadable: Skip[]): Record<string, unknown> | undefined {
  try {
    const value = JSON.parse(text) as unknown;
    if (value && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
    unreadable.push({ item: from, reason: 'unreadable document (a JSON object was expected)' });
  } catch {
    unreadable.push({ item: from, reason: 'unreadable document (invalid JSON)' });
  }
  return undefined;
}

/** Masks the password of a Redis URL for the report. */
export function describeRedisUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString().replace(/\/$/, '');
  } catch {
    return 'redis://***';
  }
}

export async function readOriginalRedis(redis: Redis, prefix: string, url: string): Promise<OriginalSnapshot> {
  const unreadable: Skip[] = [];
  const notes: string[] = [];
  const configKey = (name: string) => `${prefix}config:${name}`;
  const documents: OriginalSnapshot['documents'] = {};
  for (const name of SETTINGS_KEYS) {
    const raw = await redis.get(configKey(name));
    if (raw === null) continue;
    const value = parseObject(raw, configKey(name), unreadable);
    if (value) documents[name] = { from: configKey(name), value };
  }
  const linksRaw = await redis.get(configKey('magic_link_tokens'));
  const magicLinks =
    linksRaw === null
      ? undefined
      : { from: configKey('magic_link_tokens'), value: parseObject(linksRaw, configKey('magic_link_tokens'), unreadable) ?? {} };

  const markerPattern = `${prefix}processed_email:`;
  const markers: Array<{ emailId: string; pttlMs: number }> = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${markerPattern}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length === 0) continue;
    const pipeline = redis.pipeline();
    for (const key of keys) pipeline.pttl(key);
    const ttls = (await pipeline.exec()) ?? [];
    keys.forEach((key, i) => markers.push({ emailId: key.slice(markerPattern.length), pttlMs: Number(ttls[i]?.[1] ?? -2) }));
  } while (cursor !== '0');

  // The original wrote its log under `webhook_logs` and read `r:ss:webhook_logs:v1`: both may hold history.
  const logs: Array<Located<unknown[]>> = [];
  for (const key of [`${prefix}webhook_logs:v1`, 'webhook_logs']) {
    const type = await redis.type(key);
    if (type === 'none') continue;
    if (type !== 'list') {
      unreadable.push({ item: key, reason: `Redis type ${type} (a list was expected)` });
      continue;
    }
    logs.push({ from: key, value: await redis.lrange(key, 0, -1) });
  }
  // Other config keys of the original (e.g. polling_config of the IMAP poller): listed, not carried.
  const known = new Set([...SETTINGS_KEYS, 'magic_link_tokens'].map(configKey));
  cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}config:*`, 'COUNT', 1000);
    cursor = next;
    for (const key of keys.filter((k) => !known.has(k)).sort()) {
      unreadable.push({ item: key, reason: 'a config document Render Signal has no use for (legacy IMAP poller or unknown)' });
    }
  } while (cursor !== '0');
  for (const legacy of [`${prefix}processed_email_ids:v1`, `${prefix}processed_subject_groups:v1`]) {
    if ((await redis.exists(legacy)) === 1) {
      notes.push(`${legacy}: a legacy set the original no longer read (PROCESSED_*_REDIS_KEY): not carried`);
    }
  }
  return {
    origin: `${describeRedisUrl(url)} (prefix ${prefix})`,
    documents,
    ...(magicLinks ? { magicLinks } : {}),
    processed: { from: `${markerPattern}*`, value: markers },
    logs,
    unreadable,
    notes,
  };
}

/** The original's file fallbacks (`debug/` in its working directory). */
export const ORIGINAL_FILES = {
  webhook_config: 'webhook_config.json',
  processing_prefs: 'processing_prefs.json',
  runtime_flags: 'runtime_flags.json',
  routing_rules: 'routing_rules.json',
  magic_links: 'magic_links.json',
  webhook_logs: 'webhook_logs.json',
} as const;

export function readOriginalDir(dir: string): OriginalSnapshot {
  const unreadable: Skip[] = [];
  const read = (file: string) => {
    const path = join(dir, file);
    return existsSync(path) ? readFileSync(path, 'utf8') : undefined;
  };
  const documents: OriginalSnapshot['documents'] = {};
  for (const name of SETTINGS_KEYS) {
    const text = read(ORIGINAL_FILES[name]);
    if (text === undefined) continue;
    const value = parseObject(text, ORIGINAL_FILES[name], unreadable);
    if (value) documents[name] = { from: ORIGINAL_FILES[name], value };
  }
  const linksText = read(ORIGINAL_FILES.magic_links);
  const logs: Array<Located<unknown[]>> = [];
  const logsText = read(ORIGINAL_FILES.webhook_logs);
  if (logsText !== undefined) {
    try {
      const value = JSON.parse(logsText) as unknown;
      if (Array.isArray(value)) logs.push({ from: ORIGINAL_FILES.webhook_logs, value });
      else unreadable.push({ item: ORIGINAL_FILES.webhook_logs, reason: 'a JSON list was expected' });
    } catch {
      unreadable.push({ item: ORIGINAL_FILES.webhook_logs, reason: 'invalid JSON' });
    }
  }
  if (existsSync(join(dir, 'webhook_time_window.json'))) {
    unreadable.push({
      item: 'webhook_time_window.json',
      reason: 'the original\'s "global" window, never enforced on ingress: Render Signal has one window, webhook_time_start/end',
    });
  }
  return {
    origin: `folder ${dir}`,
    documents,
    ...(linksText !== undefined
      ? { magicLinks: { from: ORIGINAL_FILES.magic_links, value: parseObject(linksText, ORIGINAL_FILES.magic_links, unreadable) ?? {} } }
      : {}),
    processed: {
      from: 'processed_email',
      unavailable: 'without Redis the original kept processed emails in memory only: there is nothing to carry',
    },
    logs,
    unreadable,
    notes: [],
  };
}
