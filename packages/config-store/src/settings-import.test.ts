import { describe, expect, it } from '@jest/globals';
import { DEFAULT_PROCESSING_PREFS, DEFAULT_RUNTIME_FLAGS, DEFAULT_WEBHOOK_CONFIG } from '@render-signal/contracts';
import { prepareSettingsImport, readImportFile } from './settings-import';
import type { Settings } from './settings';

const meta = { _updated_at: null, _revision: 1 };
const current = {
  webhook_config: { ...DEFAULT_WEBHOOK_CONFIG, webhook_url: 'https://hook.eu2.make.com/current', ...meta },
  processing_prefs: { ...DEFAULT_PROCESSING_PREFS, rate_limit_per_hour: 20, ...meta },
  runtime_flags: { ...DEFAULT_RUNTIME_FLAGS, ...meta },
  routing_rules: { rules: [], ...meta },
} as Settings;

/** render_signal_dashboard_config.json as the original dashboard downloads it. */
const originalExport = {
  exported_at: '2026-11-30T09:00:00.000Z',
  webhook_config: {
    success: true,
    config: {
      webhook_url: 'https://hook.eu2.make.com/***',
      webhook_ssl_verify: true,
      webhook_sending_enabled: false,
      webhook_delivery_mode: 'form',
      webhook_fallback_on_415: true,
      webhook_time_start: null,
      webhook_time_end: null,
      absence_pause_enabled: true,
      absence_pause_days: ['Sunday'],
    },
  },
  time_window: { success: true, webhooks_time_start: '08:00', webhooks_time_end: '19:30', timezone: 'Europe/Paris' },
  processing_prefs: {
    success: true,
    prefs: { ...DEFAULT_PROCESSING_PREFS, retry_count: 4, rate_limit_per_hour: 5, exclude_keywords: ['pub'] },
  },
  ui_preferences: { theme: 'dark' },
};

describe('readImportFile', () => {
  it('reads the original dashboard export: masked URL kept, window, absence, prefs; the unenforced 5/h and UI prefs listed', () => {
    const source = readImportFile(originalExport);
    expect(source.format).toBe('original-dashboard-export');
    const prepared = prepareSettingsImport(current, source.documents, { allowPrivateNetwork: false });
    if (!prepared.ok) throw new Error(prepared.message);
    expect(prepared.values.webhook_config).toMatchObject({
      webhook_url: 'https://hook.eu2.make.com/current',
      webhook_sending_enabled: false,
      webhook_delivery_mode: 'form',
      webhook_time_start: '08:00',
      webhook_time_end: '19:30',
      absence_pause_enabled: true,
      absence_pause_days: ['sunday'],
    });
    expect(prepared.values.processing_prefs).toMatchObject({ retry_count: 4, rate_limit_per_hour: 20, exclude_keywords: ['pub'] });
    expect(source.notImported.map((n) => n.path)).toEqual([
      'webhook_config.config.webhook_url',
      'processing_prefs.prefs.rate_limit_per_hour',
      'ui_preferences',
    ]);
  });

  it('prefers the enforced window of webhook_config over the global one', () => {
    const file = structuredClone(originalExport);
    Object.assign(file.webhook_config.config, { webhook_time_start: '07h00', webhook_time_end: '20h00' });
    expect(readImportFile(file).documents).toMatchObject({ webhook_config: { webhook_time_start: '07h00', webhook_time_end: '20h00' } });
  });

  it('keeps our own format, and refuses a file that is neither', () => {
    expect(readImportFile({ format: 'render-signal-config/1', documents: { runtime_flags: {} } })).toEqual({
      documents: { runtime_flags: {} },
      format: 'render-signal',
      notImported: [],
    });
    const neither = readImportFile({ hello: 1 });
    expect(prepareSettingsImport(current, neither.documents, { allowPrivateNetwork: false })).toMatchObject({
      ok: false,
      message: 'documents manquants',
    });
  });
});
