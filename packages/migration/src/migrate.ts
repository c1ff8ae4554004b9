import type { Cluster, Redis } from 'ioredis';
import { hasMagicLink, magicLinkKeys, storeCarriedMagicLink, type CarriedMagicLink } from '@render-signal/auth';
import type { CommonEnv } from '@render-signal/config';
import { configDocumentKey, readSettings, type SettingsDocumentName, type SettingsStore } from '@render-signal/config-store';
import { importedWebhookLogKeys, importWebhookLogEntries, webhookLogKey, type WebhookLogEntry } from '@render-signal/delivery';
import { markEmailsSeen, seenEmailKey, seenEmails } from '@render-signal/ingest';
import {
  isSkip,
  mapMagicLinks,
  mapProcessedMarker,
  mapProcessingPrefs,
  mapRoutingRules,
  mapRuntimeFlags,
  mapWebhookConfig,
  mapWebhookLogLine,
  type DocumentMapping,
  type Skip,
} from './map';
import type { OriginalSnapshot } from './source';

/**
 * `npm run migrate`: a plan first (what the original holds, what the new deployment already has, the difference),
 * then the writes. A dry run stops after the plan. Every write is "only if absent or different", so a second run
 * finds nothing to do.
 */

export interface MigrationTarget {
  redis: Redis | Cluster;
  settings: SettingsStore;
  env: Pick<CommonEnv, 'QUEUE_PREFIX' | 'ALLOW_PRIVATE_NETWORK' | 'WEBHOOK_LOG_MAX_ENTRIES' | 'WEBHOOK_LOG_MAX_AGE_DAYS'> & {
    DEDUP_WINDOW_DAYS: number;
  };
  /** Described in the report (password masked). */
  description: string;
  now?: Date;
}

export interface PlanSection {
  title: string;
  from: string;
  to: string;
  /** One line per change (old → new, masked). */
  lines: string[];
  /** Items that would be written. */
  pending: number;
  /** Items already carried (found identical in the new store). */
  unchanged: number;
}

export interface MigrationPlan {
  origin: string;
  target: string;
  sections: PlanSection[];
  skipped: Skip[];
  notes: string[];
  documents: Partial<Record<SettingsDocumentName, unknown>>;
  magicLinks: CarriedMagicLink[];
  markers: Array<{ emailId: string; ttlMs: number }>;
  logEntries: WebhookLogEntry[];
}

/** Ids of original links carried once: a link revoked on the new deployment since is not carried again. */
const ledgerKey = (prefix: string) => `${prefix}:migration:magic_links`;

export async function planMigration(snapshot: OriginalSnapshot, target: MigrationTarget): Promise<MigrationPlan> {
  const { env, redis } = target;
  const prefix = env.QUEUE_PREFIX;
  const now = (target.now ?? new Date()).getTime();
  const policy = { allowPrivateNetwork: env.ALLOW_PRIVATE_NETWORK };
  const current = await readSettings(target.settings);
  const sections: PlanSection[] = [];
  const skipped: Skip[] = [...snapshot.unreadable];
  const documents: MigrationPlan['documents'] = {};

  const mappers: { [N in SettingsDocumentName]: (original: Record<string, unknown>) => DocumentMapping<unknown> } = {
    webhook_config: (o) => mapWebhookConfig(o, current.webhook_config, policy),
    processing_prefs: (o) => mapProcessingPrefs(o, current.processing_prefs),
    runtime_flags: (o) => mapRuntimeFlags(o, current.runtime_flags),
    routing_rules: (o) => mapRoutingRules(o, current.routing_rules, policy),
  };
  for (const name of Object.keys(mappers) as SettingsDocumentName[]) {
    const found = snapshot.documents[name];
    if (!found) continue;
    const mapping = mappers[name](found.value);
    skipped.push(...mapping.skipped);
    if (mapping.changes.length > 0) documents[name] = mapping.value;
    sections.push({
      title: name,
      from: found.from,
      to: configDocumentKey(prefix, name),
      lines: mapping.changes.map((c) => `${c.field}: ${c.from} → ${c.to}`),
      pending: mapping.changes.length,
      unchanged: mapping.changes.length === 0 && mapping.carried > 0 ? 1 : 0,
    });
  }

  const magicLinks: CarriedMagicLink[] = [];
  if (snapshot.magicLinks) {
    const mapped = mapMagicLinks(snapshot.magicLinks.value, now);
    skipped.push(...mapped.skipped);
    const ledger = new Set(await redis.smembers(ledgerKey(prefix)));
    const lines: string[] = [];
    let unchanged = 0;
    for (const link of mapped.links) {
      const label = `${link.expires === null ? 'permanent link' : 'one-shot link'} ${link.id.slice(0, 6)}…`;
      if (await hasMagicLink(redis, prefix, link)) unchanged += 1;
      else if (ledger.has(link.id)) {
        unchanged += 1;
        lines.push(`${label}: revoked on the new deployment since the last run, not carried again`);
      } else {
        magicLinks.push(link);
        lines.push(
          `${label}: (absent) → ${link.expires === null ? 'reusable until revoked' : `single use, until ${new Date(link.expires * 1000).toISOString()}`}`,
        );
      }
    }
    const keys = magicLinkKeys(prefix);
    sections.push({
      title: 'magic links',
      from: snapshot.magicLinks.from,
      to: `${keys.permanent}, ${keys.oneShot('<id>')}`,
      lines,
      pending: magicLinks.length,
      unchanged,
    });
  }

  const markers: MigrationPlan['markers'] = [];
  if ('unavailable' in snapshot.processed) {
    snapshot.notes.push(`${snapshot.processed.from}: ${snapshot.processed.unavailable}`);
  } else {
    const carried: Array<{ emailId: string; ttlMs: number }> = [];
    for (const marker of snapshot.processed.value) {
      const mapped = mapProcessedMarker(marker, env.DEDUP_WINDOW_DAYS * 86_400_000);
      if (isSkip(mapped)) skipped.push(mapped);
      else carried.push(mapped);
    }
    const seen = await seenEmails(
      redis,
      prefix,
      carried.map((m) => m.emailId),
    );
    markers.push(...carried.filter((m) => !seen.has(m.emailId)));
    sections.push({
      title: 'processed emails (dedup: a re-posted email answers already_processed)',
      from: snapshot.processed.from,
      to: seenEmailKey(prefix, '<email_id>'),
      lines:
        markers.length > 0
          ? [
              `${markers.length} email id(s), each with its remaining TTL (longest ${Math.round(Math.max(...markers.map((m) => m.ttlMs)) / 3_600_000)} h)`,
            ]
          : [],
      pending: markers.length,
      unchanged: carried.length - markers.length,
    });
  }

  const logEntries: WebhookLogEntry[] = [];
  if (snapshot.logs.length > 0) {
    const known = await importedWebhookLogKeys(redis, prefix);
    const lines: string[] = [];
    let unchanged = 0;
    for (const source of snapshot.logs) {
      let fresh = 0;
      source.value.forEach((line, index) => {
        const mapped = mapWebhookLogLine(line, source.from, index, { nowMs: now, maxAgeDays: env.WEBHOOK_LOG_MAX_AGE_DAYS });
        if (isSkip(mapped)) return void skipped.push(mapped);
        if (known.has(mapped.import_key!) || logEntries.some((e) => e.import_key === mapped.import_key)) unchanged += 1;
        else {
          logEntries.push(mapped);
          fresh += 1;
        }
      });
      lines.push(`${source.from}: ${fresh} new entr${fresh === 1 ? 'y' : 'ies'} of ${source.value.length}`);
    }
    if (logEntries.length > 0) {
      const dates = logEntries.map((e) => e.timestamp).sort();
      lines.push(`dated ${dates[0]} … ${dates[dates.length - 1]}`);
    }
    if (logEntries.length > env.WEBHOOK_LOG_MAX_ENTRIES) {
      lines.push(`only the newest ${env.WEBHOOK_LOG_MAX_ENTRIES} are kept (WEBHOOK_LOG_MAX_ENTRIES)`);
    }
    sections.push({
      title: 'webhook log history',
      from: snapshot.logs.map((l) => l.from).join(' + '),
      to: webhookLogKey(prefix),
      lines: logEntries.length > 0 ? lines : [],
      pending: logEntries.length,
      unchanged,
    });
  }

  return {
    origin: snapshot.origin,
    target: target.description,
    sections,
    skipped,
    notes: snapshot.notes,
    documents,
    magicLinks,
    markers,
    logEntries,
  };
}

export interface MigrationResult {
  documents: string[];
  magicLinks: number;
  markers: number;
  logEntries: number;
}

export async function applyMigration(plan: MigrationPlan, target: MigrationTarget): Promise<MigrationResult> {
  const prefix = target.env.QUEUE_PREFIX;
  const now = target.now ?? new Date();
  const result: MigrationResult = { documents: [], magicLinks: 0, markers: 0, logEntries: 0 };
  if (Object.keys(plan.documents).length > 0) {
    // Validated again by the store, all documents in one transaction; every process sees the change at once.
    await target.settings.putMany(plan.documents);
    result.documents = Object.keys(plan.documents);
  }
  for (const link of plan.magicLinks) {
    if (await storeCarriedMagicLink(target.redis, prefix, link, now)) result.magicLinks += 1;
    await target.redis.sadd(ledgerKey(prefix), link.id);
  }
  result.markers = (await markEmailsSeen(target.redis, prefix, plan.markers)).length;
  if (plan.logEntries.length > 0) {
    result.logEntries = (await importWebhookLogEntries(target.redis, prefix, plan.logEntries, target.env.WEBHOOK_LOG_MAX_ENTRIES)).added;
  }
  return result;
}

export const pendingCount = (plan: MigrationPlan) => plan.sections.reduce((sum, s) => sum + s.pending, 0);
export const unchangedCount = (plan: MigrationPlan) => plan.sections.reduce((sum, s) => sum + s.unchanged, 0);

/** The readable report: old → new per section, then what was not carried and why. */
export function formatPlan(plan: MigrationPlan, mode: { dryRun: boolean }): string {
  const out: string[] = [];
  out.push(`from ${plan.origin}`);
  out.push(`to   ${plan.target}${mode.dryRun ? '   (dry run: nothing is written)' : ''}`);
  if (plan.sections.length === 0) out.push('', 'Nothing of the original was found there.');
  for (const section of plan.sections) {
    const state =
      section.pending > 0
        ? `${section.pending} to ${mode.dryRun ? 'write' : 'write'}${section.unchanged ? `, ${section.unchanged} already there` : ''}`
        : 'already carried, unchanged';
    out.push('', `${section.title}: ${section.from} → ${section.to}  [${state}]`);
    for (const line of section.lines) out.push(`  ${line}`);
  }
  if (plan.notes.length > 0) {
    out.push('', 'Notes:');
    for (const note of plan.notes) out.push(`  - ${note}`);
  }
  if (plan.skipped.length > 0) {
    out.push('', `Not carried (${plan.skipped.length}):`);
    for (const skip of plan.skipped) out.push(`  - ${skip.item}${skip.value ? ` = ${skip.value}` : ''}: ${skip.reason}`);
  }
  return out.join('\n');
}
