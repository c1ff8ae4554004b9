import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { originalToken } from '@render-signal/auth';
import { computeEmailId } from '@render-signal/contracts';
import { removeRedisDir, startRedisServer, type OwnRedis } from '../helpers/redis-server';
import { uniquePrefix } from '../helpers/test-redis';
import { startWebhookSink, type WebhookSink } from '../helpers/webhook-sink';
import { sampleEmail, startWorld, type World } from '../helpers/world';

const ROOT = join(new URL('.', import.meta.url).pathname, '../..');
const execFileAsync = promisify(execFile);
/** The original's FLASK_SECRET_KEY: the new deployment runs with the same value as SECRET_KEY. */
const ORIGINAL_SECRET = 'the-original-flask-secret-key-42';
const PERMANENT_ID = 'Perm4nentL1nk_abcdefgh'; // secrets.token_urlsafe(16)
const ONE_SHOT_ID = 'OneSh0tL1nk_abcdefghij';
const DAY_S = 86_400;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a CLI as the user does (a real process, from source through tsx). */
async function cli(script: 'migrate' | 'config', args: string[], env: Record<string, string>): Promise<Run> {
  try {
    const { stdout, stderr } = await execFileAsync(
      process.execPath,
      ['--import', 'tsx', join(ROOT, `apps/cli/src/${script}.ts`), ...args],
      {
        cwd: ROOT,
        env: { PATH: process.env.PATH ?? '', ...env },
      },
    );
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** Every key with its type, value and remaining TTL in ms (-1: none). */
async function dump(redis: Redis): Promise<Record<string, { type: string; value: unknown; pttl: number }>> {
  const out: Record<string, { type: string; value: unknown; pttl: number }> = {};
  for (const key of (await redis.keys('*')).sort()) {
    const type = await redis.type(key);
    const value =
      type === 'string'
        ? await redis.get(key)
        : type === 'list'
          ? await redis.lrange(key, 0, -1)
          : type === 'hash'
            ? await redis.hgetall(key)
            : type;
    out[key] = { type, value, pttl: await redis.pttl(key) };
  }
  return out;
}

const isoAgo = (hours: number) => new Date(Date.now() - hours * 3_600_000).toISOString().replace('Z', '+00:00');

/** A log entry exactly as the original's orchestrator wrote it (URL truncated to 50 chars + "...", not masked). */
const originalLogEntry = (hours: number, emailId: string, status: 'success' | 'error', url: string) =>
  JSON.stringify({
    timestamp: isoAgo(hours).replace(/(\.\d{3})/, '$1456'),
    type: 'custom',
    email_id: emailId,
    status,
    status_code: 200,
    webhook_url: url.length > 50 ? `${url.slice(0, 50)}...` : url,
    subject: `Sujet ${emailId}`,
    delivery_mode: 'json',
    attempted_delivery_modes: ['json'],
    fallback_used: false,
    payload_size_bytes: 321,
    ...(status === 'error' ? { error_message: 'Accepted', response_snippet: 'Accepted', failure_reason: 'remote_application_error' } : {}),
  });

describe('npm run migrate: a running original deployment carried into a new one', () => {
  let oldRedis: OwnRedis;
  let newRedis: OwnRedis;
  let old: Redis;
  let fresh: Redis;
  let sink: WebhookSink;
  let world: World | undefined;
  const prefix = uniquePrefix('mig');
  let env: Record<string, string>;
  const processedEmail = {
    subject: 'Déjà traité',
    sender: 'Client <client@example.org>',
    date: '2026-11-28T09:00:00.000Z',
    body: '<p>x</p>',
  };
  let before: Awaited<ReturnType<typeof dump>>;
  let seededAt = 0;
  /** The old Redis as seeded: same keys, types and values; TTLs only ticked down (none added, extended or removed). */
  const expectOldUnchanged = async () => {
    const now = await dump(old);
    expect(Object.keys(now)).toEqual(Object.keys(before));
    const elapsed = Date.now() - seededAt;
    for (const [key, was] of Object.entries(before)) {
      const is = now[key]!;
      expect({ key, type: is.type, value: is.value }).toEqual({ key, type: was.type, value: was.value });
      if (was.pttl < 0) expect(is.pttl).toBe(was.pttl);
      else {
        expect(is.pttl).toBeLessThanOrEqual(was.pttl);
        expect(was.pttl - is.pttl).toBeLessThanOrEqual(elapsed + 1_000);
      }
    }
  };

  beforeAll(async () => {
    [oldRedis, newRedis, sink] = await Promise.all([startRedisServer(), startRedisServer(), startWebhookSink()]);
    old = new Redis(oldRedis.url);
    fresh = new Redis(newRedis.url);
    env = { REDIS_URL: newRedis.url, QUEUE_PREFIX: prefix, ALLOW_PRIVATE_NETWORK: 'true' };
    const secretPath = 'a-very-secret-make-token-0123456789abcdefghij';
    // The original's Redis, in its exact formats (json.dumps of dicts under r:ss:config:*).
    await old.set(
      'r:ss:config:webhook_config',
      JSON.stringify({
        webhook_url: `${sink.url}/default/${secretPath}`,
        webhook_ssl_verify: true,
        webhook_sending_enabled: true,
        webhook_delivery_mode: 'json',
        webhook_fallback_on_415: true,
        webhook_time_start: '',
        webhook_time_end: '',
        absence_pause_enabled: false,
        absence_pause_days: ['saturday'],
        global_time_start: '09:00',
        global_time_end: '18:00',
        _updated_at: '2026-11-20T08:00:00.000000+00:00',
      }),
    );
    await old.set(
      'r:ss:config:processing_prefs',
      JSON.stringify({
        exclude_keywords: [],
        require_attachments: false,
        max_email_size_mb: null,
        sender_priority: {},
        retry_count: 3,
        retry_delay_sec: 5,
        webhook_timeout_sec: 20,
        rate_limit_per_hour: 5,
        notify_on_failure: false,
        mirror_media_to_custom: true,
        _updated_at: '2026-11-20T08:00:00.000000+00:00',
      }),
    );
    await old.set(
      'r:ss:config:runtime_flags',
      JSON.stringify({ disable_email_id_dedup: false, allow_custom_webhook_without_links: true, gmail_ingress_enabled: true }),
    );
    await old.set(
      'r:ss:config:routing_rules',
      JSON.stringify({
        rules: [
          {
            id: 'urgent',
            name: 'Urgences',
            conditions: [{ field: 'subject', operator: 'contains', value: 'URGENT', case_sensitive: false }],
            actions: { webhook_url: `${sink.url}/rule-urgent`, priority: 'high', stop_processing: true },
          },
          {
            id: 'placeholder',
            name: 'Exemple',
            conditions: [{ field: 'sender', operator: 'equals', value: 'x@y.z', case_sensitive: false }],
            actions: { webhook_url: 'https://example.com/hook', priority: 'normal', stop_processing: false },
          },
        ],
        _updated_at: '2026-11-21T08:00:00.000000+00:00',
      }),
    );
    await old.set('r:ss:config:polling_config', JSON.stringify({ active_days: [0, 1], _updated_at: null }));
    const now = Math.floor(Date.now() / 1000);
    await old.set(
      'r:ss:config:magic_link_tokens',
      JSON.stringify({
        [PERMANENT_ID]: { expires_at: null, consumed: false, consumed_at: null, single_use: false },
        [ONE_SHOT_ID]: { expires_at: now + 600, consumed: false, consumed_at: null, single_use: true },
        expiredLinkXXXXXXXXXXXX: { expires_at: now - 60, consumed: false, consumed_at: null, single_use: true },
      }),
    );
    await old.set(`r:ss:processed_email:${computeEmailId(processedEmail)}`, '1', 'EX', 30 * DAY_S - 3600);
    await old.set(`r:ss:processed_email:${'b'.repeat(32)}`, '1', 'EX', 2 * DAY_S);
    // The bug: written under `webhook_logs`, read under `r:ss:webhook_logs:v1`: both may hold history.
    await old.rpush(
      'webhook_logs',
      originalLogEntry(30, 'log-a', 'success', `${sink.url}/default/${secretPath}`),
      originalLogEntry(5, 'log-b', 'error', `${sink.url}/default/${secretPath}`),
    );
    await old.rpush('r:ss:webhook_logs:v1', originalLogEntry(50, 'log-c', 'success', 'https://hook.eu2.make.com/abcdef'));
    before = await dump(old);
    seededAt = Date.now();
    await old.config('RESETSTAT');
  }, 60_000);

  afterAll(async () => {
    await world?.close();
    old?.disconnect();
    fresh?.disconnect();
    await sink?.close();
    await Promise.all([oldRedis && removeRedisDir(oldRedis), newRedis && removeRedisDir(newRedis)]);
  });

  it('dry run: lists old → new with URLs masked and what cannot be carried, writes nothing', async () => {
    const run = await cli('migrate', ['--from', oldRedis.url, '--dry-run'], env);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('dry run: nothing is written');
    expect(run.stdout).toMatch(/webhook_config: r:ss:config:webhook_config → rs-test-mig-\w+:config:webhook_config/);
    expect(run.stdout).toContain('webhook_config.webhook_url: (empty) → http://127.0.0.1');
    expect(run.stdout).not.toContain('a-very-secret-make-token');
    expect(run.stdout).toMatch(/routing_rules\.rules\[1\] "Exemple" = https:\/\/example\.com\/\*\*\*: .*placeholder/);
    expect(run.stdout).toMatch(/processing_prefs\.rate_limit_per_hour = 5: 5\/h is the original's default/);
    expect(run.stdout).toContain('webhook_config.global_time_start');
    expect(run.stdout).toMatch(/r:ss:config:polling_config: a config document Render Signal has no use for/);
    expect(run.stdout).toMatch(/magic_link expire…: expired on/);
    expect(run.stdout).toContain('2 email id(s)');
    expect(run.stdout).toMatch(/Dry run: \d+ item\(s\) would be written/);
    expect(await fresh.dbsize()).toBe(0);
  }, 60_000);

  it('carries everything, then a second run changes nothing and says so; the old Redis is only read', async () => {
    const run = await cli('migrate', ['--from', oldRedis.url, '--prefix', 'r:ss:'], env);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(
      /Written: config webhook_config, processing_prefs, runtime_flags, routing_rules; 2 magic link\(s\); 2 processed email\(s\); 3 webhook log entries/,
    );

    // Each processed marker keeps its remaining TTL (seeded: 30 days - 1 h, and 2 days).
    const carriedTtl = await fresh.pttl(`${prefix}:email:de:${computeEmailId(processedEmail)}`);
    expect(carriedTtl).toBeGreaterThan((30 * DAY_S - 3600 - 120) * 1000);
    expect(carriedTtl).toBeLessThanOrEqual((30 * DAY_S - 3600) * 1000);
    expect(await fresh.pttl(`${prefix}:email:de:${'b'.repeat(32)}`)).toBeLessThanOrEqual(2 * DAY_S * 1000);

    // The new store after the first run, TTLs left out (they tick); a second run must leave it as it is.
    const withoutTtl = async () =>
      Object.fromEntries(Object.entries(await dump(fresh)).map(([k, v]) => [k, { type: v.type, value: v.value }]));
    const afterFirst = await withoutTtl();
    const second = await cli('migrate', ['--from', oldRedis.url], env);
    expect(second.code).toBe(0);
    expect(second.stdout).toContain('Nothing to change: everything was already carried by an earlier run.');
    expect(second.stdout).not.toContain('Written');
    expect(await withoutTtl()).toEqual(afterFirst);

    await expectOldUnchanged();
    // No write command ever reached the old server (only reads since the seed).
    const stats = (await old.info('commandstats')).split('\n').map((l) => l.split(':')[0]!.replace('cmdstat_', ''));
    const writes = [
      'set',
      'del',
      'unlink',
      'rpush',
      'lpush',
      'ltrim',
      'expire',
      'pexpire',
      'hset',
      'sadd',
      'eval',
      'evalsha',
      'rename',
      'flushdb',
      'flushall',
    ];
    expect(stats.filter((c) => writes.includes(c))).toEqual([]);
  }, 90_000);

  describe('the new deployment, logged in with an original permanent link', () => {
    let session: { cookie: string; csrf: string };
    const api = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`${world!.apiUrl}${path}`, {
        method,
        headers: { cookie: session.cookie, 'x-csrf-token': session.csrf, ...(body ? { 'content-type': 'application/json' } : {}) },
        ...(body ? { body: JSON.stringify(body) } : {}),
      });
      // eslint-disable-next-line @typescript-eslint/no-explicit-any -- answers are checked with toMatchObject
      return { status: res.status, json: (await res.json()) as Record<string, any> };
    };

    const sessionFrom = (res: Response) => {
      const cookies = res.headers.getSetCookie().map((c) => c.split(';')[0]!);
      return { cookie: cookies.join('; '), csrf: cookies.find((c) => c.startsWith('rs_csrf='))!.slice('rs_csrf='.length) };
    };

    beforeAll(async () => {
      world = await startWorld({
        redisUrl: newRedis.url,
        env: { QUEUE_PREFIX: prefix, FLASK_SECRET_KEY: ORIGINAL_SECRET, SECRET_KEY: '' },
      });
      const res = await fetch(`${world.apiUrl}/login/magic/${originalToken(ORIGINAL_SECRET, PERMANENT_ID, null)}`, { redirect: 'manual' });
      expect(res.status).toBe(303);
      session = sessionFrom(res);
    }, 60_000);

    it('shows settings, prefs, flags and rules in place', async () => {
      const config = await api('GET', '/api/webhooks/config');
      expect(config.json.config).toMatchObject({ webhook_url: `http://127.0.0.1:${sink.port}/***`, absence_pause_days: ['saturday'] });
      const prefs = await api('GET', '/api/processing_prefs');
      expect(prefs.json.prefs).toMatchObject({ retry_count: 3, retry_delay_sec: 5, webhook_timeout_sec: 20, rate_limit_per_hour: 0 });
      const flags = await api('GET', '/api/get_runtime_flags');
      expect(flags.json.flags).toMatchObject({
        allow_custom_webhook_without_links: true,
        gmail_ingress_enabled: true,
        disable_email_id_dedup: false,
      });
      const rules = await api('GET', '/api/routing_rules');
      expect(rules.json.config.rules.map((r: { id: string }) => r.id)).toEqual(['urgent']);
    });

    it('shows the log history from both keys, with its dates', async () => {
      const logs = await api('GET', '/api/webhook_logs?days=7');
      const entries = logs.json.logs as Array<{ email_id: string; timestamp: string; webhook_url: string }>;
      expect(entries.map((e) => e.email_id)).toEqual(['log-b', 'log-a', 'log-c']);
      expect(Date.now() - Date.parse(entries[0]!.timestamp)).toBeGreaterThan(4.9 * 3_600_000);
      expect(entries.every((e) => e.webhook_url.endsWith('/***'))).toBe(true);
    });

    it('answers already_processed for an email the original handled, and sends a rule match to the rule, not the default', async () => {
      const repost = await world!.post(processedEmail);
      expect(repost.json).toMatchObject({ success: true, status: 'already_processed', email_id: computeEmailId(processedEmail) });

      const urgent = await world!.post(sampleEmail({ subject: 'URGENT : livraison' }));
      expect(urgent.json.status).toBe('queued');
      await sink.waitFor(1, 20_000);
      await new Promise((r) => setTimeout(r, 300));
      expect(sink.received.map((r) => r.path)).toEqual(['/hook/rule-urgent']);
      expect(sink.received[0]!.json).toMatchObject({ routing_rule: { id: 'urgent' } });
    }, 30_000);

    it("accepts the original link in the login form's magic_token field, and refuses one signed with another secret", async () => {
      const form = (token: string) =>
        fetch(`${world!.apiUrl}/login`, {
          method: 'POST',
          redirect: 'manual',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ magic_token: token }).toString(),
        });
      const ok = await form(originalToken(ORIGINAL_SECRET, PERMANENT_ID, null));
      expect(ok.status).toBe(303);
      expect(ok.headers.getSetCookie().some((c) => c.startsWith('rs_session='))).toBe(true);
      const forged = await form(originalToken('not-the-original-secret-0123456789', PERMANENT_ID, null));
      expect(forged.status).toBe(401);
      expect(forged.headers.getSetCookie()).toEqual([]);
    });

    it('lists the original links, keeps the one-shot link single-use, and revokes the permanent one', async () => {
      const listed = await api('GET', '/api/auth/magic-links');
      expect(listed.json.links.map((l: { id: string }) => l.id)).toContain(PERMANENT_ID);

      // The one-shot token carries the expiry it was signed with, as stored in the original's record.
      const record = (JSON.parse((await old.get('r:ss:config:magic_link_tokens'))!) as Record<string, { expires_at: number }>)[
        ONE_SHOT_ID
      ]!;
      const token = originalToken(ORIGINAL_SECRET, ONE_SHOT_ID, record.expires_at);
      const oneShot = await fetch(`${world!.apiUrl}/login/magic/${token}`, { redirect: 'manual' });
      expect(oneShot.status).toBe(303);
      expect((await fetch(`${world!.apiUrl}/login/magic/${token}`, { redirect: 'manual' })).status).toBe(410);

      expect((await api('DELETE', `/api/auth/magic-links/${PERMANENT_ID}`)).status).toBe(200);
      // Revoking the link ends the sessions it opened (this one included); the one-shot link's session lives on.
      expect((await api('GET', '/api/auth/magic-links')).status).toBe(401);
      session = sessionFrom(oneShot);
      expect((await api('GET', '/api/auth/magic-links')).status).toBe(200);
      const again = await fetch(`${world!.apiUrl}/login/magic/${originalToken(ORIGINAL_SECRET, PERMANENT_ID, null)}`, {
        redirect: 'manual',
      });
      expect(again.status).toBe(410);
      // A later migration run does not bring a revoked link back.
      const rerun = await cli('migrate', ['--from', oldRedis.url], env);
      expect(rerun.stdout).toContain('revoked on the new deployment since the last run');
      expect(await fresh.hexists(`${prefix}:auth:magic:permanent`, PERMANENT_ID)).toBe(0);
    }, 60_000);

    it("imports the original dashboard's export file through the dashboard API (masked URL keeps the current one)", async () => {
      const file = {
        exported_at: new Date().toISOString(),
        webhook_config: {
          success: true,
          config: {
            webhook_url: `http://127.0.0.1:${sink.port}/***`,
            webhook_ssl_verify: true,
            webhook_sending_enabled: true,
            absence_pause_enabled: false,
            absence_pause_days: [],
          },
        },
        time_window: { success: true, webhooks_time_start: '06:00', webhooks_time_end: '22:00', timezone: 'Europe/Paris' },
        processing_prefs: { success: true, prefs: { retry_count: 2, rate_limit_per_hour: 5, exclude_keywords: ['newsletter'] } },
        ui_preferences: {},
      };
      const res = await api('POST', '/api/config/import', file);
      expect(res.status).toBe(200);
      expect(res.json).toMatchObject({ format: 'original-dashboard-export', imported: ['webhook_config', 'processing_prefs'] });
      const stored = JSON.parse((await fresh.get(`${prefix}:config:webhook_config`))!) as Record<string, unknown>;
      expect(stored).toMatchObject({
        webhook_url: expect.stringContaining('/default/'),
        webhook_time_start: '06:00',
        webhook_time_end: '22:00',
      });
      expect((await api('GET', '/api/processing_prefs')).json.prefs).toMatchObject({ retry_count: 2, exclude_keywords: ['newsletter'] });
    });
  });

  it('--from-dir: carries a deployment that ran on the JSON files, and exits non-zero when nothing can be carried', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rs-orig-debug-'));
    const dirPrefix = uniquePrefix('migdir');
    writeFileSync(
      join(dir, 'webhook_config.json'),
      JSON.stringify({ webhook_url: 'https://hook.eu2.make.com/dirtoken', webhook_delivery_mode: 'form' }),
    );
    writeFileSync(join(dir, 'runtime_flags.json'), JSON.stringify({ gmail_ingress_enabled: false }));
    writeFileSync(join(dir, 'processing_prefs.json'), JSON.stringify({ retry_count: 1 }));
    writeFileSync(join(dir, 'routing_rules.json'), JSON.stringify({ rules: [], _updated_at: null }));
    writeFileSync(
      join(dir, 'magic_links.json'),
      JSON.stringify({ [PERMANENT_ID]: { expires_at: null, consumed: false, consumed_at: null, single_use: false } }),
    );
    writeFileSync(
      join(dir, 'webhook_logs.json'),
      JSON.stringify([JSON.parse(originalLogEntry(2, 'file-log', 'success', 'https://hook.eu2.make.com/x'))]),
    );
    const dirEnv = { ...env, QUEUE_PREFIX: dirPrefix };
    const run = await cli('migrate', ['--from-dir', dir], dirEnv);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('webhook_config.json → ');
    expect(run.stdout).toContain('in memory only');
    const config = JSON.parse((await fresh.get(`${dirPrefix}:config:webhook_config`))!) as Record<string, unknown>;
    expect(config).toMatchObject({ webhook_url: 'https://hook.eu2.make.com/dirtoken', webhook_delivery_mode: 'form' });
    expect(JSON.parse((await fresh.get(`${dirPrefix}:config:runtime_flags`))!)).toMatchObject({ gmail_ingress_enabled: false });
    expect(await fresh.hexists(`${dirPrefix}:auth:magic:permanent`, PERMANENT_ID)).toBe(1);
    expect(await fresh.llen(`${dirPrefix}:webhook_logs`)).toBe(1);
    expect((await cli('migrate', ['--from-dir', dir], dirEnv)).stdout).toContain('Nothing to change');

    const empty = mkdtempSync(join(tmpdir(), 'rs-orig-empty-'));
    writeFileSync(join(empty, 'routing_rules.json'), JSON.stringify({ rules: [{ name: 'bad', conditions: [], actions: {} }] }));
    const nothing = await cli('migrate', ['--from-dir', empty], { ...env, QUEUE_PREFIX: uniquePrefix('migempty') });
    expect(nothing.code).toBe(1);
    expect(nothing.stdout).toMatch(/Nothing could be carried \(1 item\(s\) refused/);
  }, 90_000);

  it('npm run config -- import reads the original export file too', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rs-orig-export-'));
    const file = join(dir, 'render_signal_dashboard_config.json');
    writeFileSync(
      file,
      JSON.stringify({
        exported_at: new Date().toISOString(),
        webhook_config: {
          success: true,
          config: { webhook_url: 'https://hook.eu2.make.com/***', webhook_delivery_mode: 'form', webhook_sending_enabled: false },
        },
        time_window: { success: true, webhooks_time_start: '', webhooks_time_end: '' },
        processing_prefs: { success: true, prefs: { retry_delay_sec: 9 } },
        ui_preferences: { compact: true },
      }),
    );
    const cliPrefix = uniquePrefix('migcfg');
    const run = await cli('config', ['import', file], { ...env, QUEUE_PREFIX: cliPrefix });
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/saved: webhook_config, processing_prefs/);
    expect(run.stdout).toContain('not imported: webhook_config.config.webhook_url');
    expect(JSON.parse((await fresh.get(`${cliPrefix}:config:webhook_config`))!)).toMatchObject({
      webhook_delivery_mode: 'form',
      webhook_sending_enabled: false,
    });
    expect(JSON.parse((await fresh.get(`${cliPrefix}:config:processing_prefs`))!)).toMatchObject({ retry_delay_sec: 9 });
  }, 60_000);
});
