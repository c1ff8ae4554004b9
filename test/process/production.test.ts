import { afterAll, afterEach, describe, expect, it } from '@jest/globals';
import { spawnApp, type AppProcess } from '../helpers/processes';
import { freePort } from '../helpers/redis-server';
import { deleteKeys, testRedisUrl, uniquePrefix } from '../helpers/test-redis';
import { waitUntil } from '../helpers/world';

/**
 * The real API process with NODE_ENV=production: what it refuses at start, and what it closes.
 * Secrets here are examples of the required strength, never real ones.
 */
const STRONG = {
  SECRET_KEY: '9c1e4f7a2b5d8e0f3a6c9b2e5d8f1a4c7e0b3d6f9a2c5e8b1d4f7a0c3e6b9d2f',
  PROCESS_API_TOKEN: 'Zr8kQ2mX5vN9pL3wT7yB1cF6hJ4s',
  TRIGGER_PAGE_PASSWORD: 'correct horse battery staple',
};
const prefixes: string[] = [];
const procs: AppProcess[] = [];

function baseEnv(extra: Record<string, string> = {}): Record<string, string> {
  const prefix = uniquePrefix('prod');
  prefixes.push(prefix);
  return { REDIS_URL: testRedisUrl(), QUEUE_PREFIX: prefix, LOG_LEVEL: 'info', NODE_ENV: 'production', ...STRONG, ...extra };
}

async function startApi(env: Record<string, string>): Promise<{ api: AppProcess; url: string }> {
  const port = await freePort();
  const api = spawnApp('api', { ...env, PORT: String(port) });
  procs.push(api);
  await api.waitForEvent('api.started');
  const url = `http://127.0.0.1:${port}`;
  await waitUntil(async () => (await fetch(`${url}/readyz`)).status === 200, 10_000, 'api ready');
  return { api, url };
}

async function login(url: string, password: string): Promise<{ cookie: string; csrf: string }> {
  const res = await fetch(`${url}/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ password }).toString(),
  });
  expect(res.status).toBe(303);
  const cookies = res.headers.getSetCookie().map((c) => c.split(';')[0]!);
  const csrf = cookies.find((c) => c.startsWith('rs_csrf='))!.slice('rs_csrf='.length);
  return { cookie: cookies.join('; '), csrf };
}

const operatorGet = async (url: string, cookie: string) => (await fetch(`${url}/api/webhooks/config`, { headers: { cookie } })).status;

afterEach(async () => {
  await Promise.all(procs.splice(0).map((p) => p.kill('SIGKILL')));
});
afterAll(async () => {
  for (const prefix of prefixes) await deleteKeys(testRedisUrl(), prefix);
});

describe('NODE_ENV=production refuses weak secrets at start', () => {
  it.each([
    ['SECRET_KEY', 'aaaaaaaaaaaaaaaa'],
    ['SECRET_KEY', 'short-but-varied-key-1234'],
    ['PROCESS_API_TOKEN', '12345678'],
    ['TRIGGER_PAGE_PASSWORD', 'x'],
  ])('%s=%s: exit 1, naming the variable and a command that makes a good value', async (name, value) => {
    const api = spawnApp('api', { ...baseEnv({ [name]: value }), PORT: '0' });
    procs.push(api);
    const { code } = await api.exited;
    expect(code).toBe(1);
    expect(api.stderr()).toContain(`${name} is too weak`);
    expect(api.stderr()).toContain('openssl rand');
    expect(api.logs.some((l) => l.event === 'api.started')).toBe(false);
  });

  it('the worker refuses a weak SECRET_KEY too (it decrypts Gmail credentials with it)', async () => {
    const worker = spawnApp('worker', baseEnv({ SECRET_KEY: 'b'.repeat(40) }));
    procs.push(worker);
    const { code } = await worker.exited;
    expect(code).toBe(1);
    expect(worker.stderr()).toContain('SECRET_KEY is too weak');
    expect(worker.stderr()).toContain('openssl rand -hex 32');
  });

  it('the worker refuses a broken SMTP_URL (alerts by email), naming the variable', async () => {
    const worker = spawnApp('worker', baseEnv({ SMTP_URL: 'mail.example.com:587', ALERT_EMAIL_TO: 'ops@example.com' }));
    procs.push(worker);
    const { code } = await worker.exited;
    expect(code).toBe(1);
    expect(worker.stderr()).toContain('SMTP_URL has the scheme "mail.example.com:": expected smtp://user:password@host:587');
    expect(worker.stderr()).toContain('(refused with NODE_ENV=production)');
    expect(worker.logs.some((l) => l.event === 'worker.started')).toBe(false);
  });

  it('outside production the same values start, with one warning per weak secret', async () => {
    const env = baseEnv({
      NODE_ENV: 'development',
      SECRET_KEY: 'aaaaaaaaaaaaaaaa',
      PROCESS_API_TOKEN: '12345678',
      TRIGGER_PAGE_PASSWORD: 'x',
    });
    const { api } = await startApi(env);
    const warned = api.logs.filter((l) => l.event === 'config.weak_secret').map((l) => l.variable);
    expect(warned.sort()).toEqual(['PROCESS_API_TOKEN', 'SECRET_KEY', 'TRIGGER_PAGE_PASSWORD']);
    expect(JSON.stringify(api.logs)).not.toContain('12345678');
  });
});

describe('NODE_ENV=production, strong secrets', () => {
  it('starts; /metrics is closed without METRICS_TOKEN; magic links need PUBLIC_BASE_URL', async () => {
    const { url } = await startApi(baseEnv());
    const metrics = await fetch(`${url}/metrics`);
    expect(metrics.status).toBe(401);
    expect(((await metrics.json()) as { message: string }).message).toContain('METRICS_TOKEN');
    expect((await fetch(`${url}/metrics`, { headers: { authorization: 'Bearer ' } })).status).toBe(401);
    const session = await login(url, STRONG.TRIGGER_PAGE_PASSWORD);
    const link = await fetch(`${url}/api/auth/magic-link`, {
      method: 'POST',
      headers: { cookie: session.cookie, 'x-csrf-token': session.csrf, 'content-type': 'application/json', host: 'evil.example' },
      body: JSON.stringify({ unlimited: true }),
    });
    expect(link.status).toBe(409);
    expect(await link.json()).toMatchObject({ success: false, code: 'public_base_url_required' });
    // Nothing was issued by the refused request.
    const listed = await fetch(`${url}/api/auth/magic-links`, { headers: { cookie: session.cookie } });
    expect(((await listed.json()) as { count: number }).count).toBe(0);
  });

  it('/metrics answers its METRICS_TOKEN only', async () => {
    const token = 'm3tR1cs-T0ken-4c8e1f9a2b7d';
    const { url } = await startApi(baseEnv({ METRICS_TOKEN: token }));
    expect((await fetch(`${url}/metrics`)).status).toBe(401);
    expect((await fetch(`${url}/metrics`, { headers: { authorization: 'Bearer wrong-token-wrong-token-0' } })).status).toBe(401);
    const ok = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('rs_api_process_resident_memory_bytes');
  });

  it('METRICS_PUBLIC=true opens /metrics on purpose', async () => {
    const { url } = await startApi(baseEnv({ METRICS_PUBLIC: 'true' }));
    expect((await fetch(`${url}/metrics`)).status).toBe(200);
  });

  it('a session made before a password change ends when the API restarts with the new password (a plain restart keeps it)', async () => {
    const env = baseEnv();
    const first = await startApi(env);
    const session = await login(first.url, STRONG.TRIGGER_PAGE_PASSWORD);
    expect(await operatorGet(first.url, session.cookie)).toBe(200);
    await first.api.kill('SIGTERM');

    const same = await startApi(env);
    expect(await operatorGet(same.url, session.cookie)).toBe(200);
    await same.api.kill('SIGTERM');

    const changed = await startApi({ ...env, TRIGGER_PAGE_PASSWORD: 'a brand new passphrase 42' });
    expect(await operatorGet(changed.url, session.cookie)).toBe(401);
    const fresh = await login(changed.url, 'a brand new passphrase 42');
    expect(await operatorGet(changed.url, fresh.cookie)).toBe(200);
  });
});
