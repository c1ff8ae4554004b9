import type { Cluster, Redis } from 'ioredis';
import type { CommonEnv } from '@render-signal/config';
import {
  createWebhookConfigSchema,
  isLoopbackPlaceholderUrl,
  isPlaceholderUrl,
  processingPrefsSchema,
  runtimeFlagsSchema,
} from '@render-signal/contracts';
import type { Logger } from '@render-signal/observability';
import { routingRulesDocumentSchema } from '@render-signal/routing';
import { createConfigStore, type ConfigStore, type DocumentOf } from './config-store';

/** The live documents every process shares (the original's config store keys). */
export const SETTINGS_DOCUMENTS = ['webhook_config', 'processing_prefs', 'runtime_flags', 'routing_rules'] as const;
export type SettingsDocumentName = (typeof SETTINGS_DOCUMENTS)[number];

export function settingsSchemas(env: Pick<CommonEnv, 'ALLOW_PRIVATE_NETWORK'>) {
  return {
    webhook_config: createWebhookConfigSchema({ allowPrivateNetwork: env.ALLOW_PRIVATE_NETWORK }),
    processing_prefs: processingPrefsSchema,
    runtime_flags: runtimeFlagsSchema,
    routing_rules: routingRulesDocumentSchema,
  };
}
export type SettingsSchemas = ReturnType<typeof settingsSchemas>;
export type SettingsStore = ConfigStore<SettingsSchemas>;
export type Settings = { [N in SettingsDocumentName]: DocumentOf<SettingsSchemas, N> };

/** Env values sit under the stored documents, as in the original (a stored value wins). */
export function settingsDefaults(env: CommonEnv) {
  return {
    webhook_config: () => ({
      webhook_ssl_verify: env.WEBHOOK_SSL_VERIFY,
      webhook_sending_enabled: env.WEBHOOK_SENDING_ENABLED,
      webhook_delivery_mode: env.WEBHOOK_DELIVERY_MODE,
      webhook_fallback_on_415: env.WEBHOOK_FALLBACK_ON_415,
    }),
    processing_prefs: () => ({}),
    runtime_flags: () => ({
      allow_custom_webhook_without_links: env.ALLOW_CUSTOM_WEBHOOK_WITHOUT_LINKS,
      disable_email_id_dedup: env.DISABLE_EMAIL_ID_DEDUP,
    }),
    routing_rules: () => ({}),
  };
}

export interface SettingsStoreOptions {
  redis: Redis | Cluster;
  subscriber: Redis | Cluster;
  env: CommonEnv;
  logger: Logger;
}

export function createSettingsStore(options: SettingsStoreOptions): SettingsStore {
  return createConfigStore({
    redis: options.redis,
    subscriber: options.subscriber,
    prefix: options.env.QUEUE_PREFIX,
    schemas: settingsSchemas(options.env) as never,
    defaults: settingsDefaults(options.env) as never,
    logger: options.logger,
  }) as SettingsStore;
}

/** All documents in one round trip: the consistent view one email is processed with. */
export function readSettings(store: SettingsStore): Promise<Settings> {
  return store.snapshot(SETTINGS_DOCUMENTS) as Promise<Settings>;
}

/** The default target: the stored webhook URL, else env WEBHOOK_URL; placeholders never count (no hard-coded fallback). */
export function resolveDefaultTarget(
  webhookConfig: { webhook_url: string | null },
  env: Pick<CommonEnv, 'WEBHOOK_URL' | 'ALLOW_PRIVATE_NETWORK'>,
): string | null {
  for (const candidate of [webhookConfig.webhook_url, env.WEBHOOK_URL]) {
    if (!candidate) continue;
    // Loopback "placeholders" are real targets when private networking is allowed (local runs, tests).
    if (isPlaceholderUrl(candidate) && !(env.ALLOW_PRIVATE_NETWORK && isLoopbackPlaceholderUrl(candidate))) continue;
    return candidate;
  }
  return null;
}

/** The enforced time window: stored bounds, each missing side filled from env WEBHOOKS_TIME_START/END. */
export function resolveTimeWindow(
  webhookConfig: { webhook_time_start: string; webhook_time_end: string },
  env: Pick<CommonEnv, 'WEBHOOKS_TIME_START' | 'WEBHOOKS_TIME_END'>,
): { start?: string; end?: string } {
  const start = webhookConfig.webhook_time_start || env.WEBHOOKS_TIME_START || undefined;
  const end = webhookConfig.webhook_time_end || env.WEBHOOKS_TIME_END || undefined;
  return { start, end };
}
