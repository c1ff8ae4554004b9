import { QUEUE_CATALOG } from '@render-signal/queue';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { createMagicLinkStore, deriveAuthKeys } from '@render-signal/auth';
import { startWorld, TEST_TOKEN, type World } from '../../../../test/helpers/world';

const PASSWORD = 'correct horse battery staple';

/** name → value of the cookies a response sets, with their raw attribute strings. */
function setCookies(res: request.Response): Map<string, { value: string; raw: string }> {
  const header = res.headers['set-cookie'] as unknown as string[] | undefined;
  const out = new Map<string, { value: string; raw: string }>();
  for (const raw of header ?? []) {
    const [pair = ''] = raw.split(';');
    const eq = pair.indexOf('=');
    out.set(pair.slice(0, eq), { value: decodeURIComponent(pair.slice(eq + 1)), raw });
  }
  return out;
}

interface Session {
  cookie: string;
  csrf: string;
}

async function login(world: World, form: Record<string, string> = { password: PASSWORD }, ip = '203.0.113.10'): Promise<Session> {
  const res = await request(world.apiUrl).post('/login').set('X-Forwarded-For', ip).type('form').send(form);
  expect(res.status).toBe(303);
  const cookies = setCookies(res);
  const session = cookies.get('rs_session');
  const csrf = cookies.get('rs_csrf');
  if (!session || !csrf) throw new Error('login set no cookies');
  return { cookie: `rs_session=${session.value}; rs_csrf=${csrf.value}`, csrf: csrf.value };
}

describe('operator auth (real API, real Redis)', () => {
  let world: World;
  let api: ReturnType<typeof request>;
  beforeAll(async () => {
    world = await startWorld({ workers: false, env: { TRIGGER_PAGE_PASSWORD: PASSWORD, LOGIN_RATE_LIMIT_MAX: '3' } });
    api = request(world.apiUrl);
  });
  afterAll(async () => {
    await world.close();
  });

  describe('login page and security headers', () => {
    it('serves the form with the original security headers', async () => {
      const res = await api.get('/login');
      expect(res.status).toBe(200);
      expect(res.text).toContain('name="password"');
      expect(res.headers['content-security-policy']).toContain("default-src 'self'");
      expect(res.headers['content-security-policy']).toContain("script-src 'self'");
      expect(res.headers['content-security-policy']).not.toContain('unsafe-inline');
      expect(res.headers['x-frame-options']).toBe('DENY');
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['strict-transport-security']).toBe('max-age=31536000; includeSubDomains');
      expect(res.headers['referrer-policy']).toBe('strict-origin-when-cross-origin');
    });

    it('serves its stylesheet (no inline styles under the CSP)', async () => {
      const res = await api.get('/auth/login.css');
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toContain('text/css');
    });

    it('sends a logged-in operator straight on', async () => {
      const session = await login(world, { password: PASSWORD }, '203.0.113.1');
      const res = await api.get('/login').set('Cookie', session.cookie);
      expect(res.status).toBe(303);
      expect(res.headers.location).toBe('/dashboard');
    });
  });

  describe('POST /login', () => {
    it('sets an HttpOnly SameSite=Strict session cookie and a readable CSRF cookie, then 303 to /dashboard', async () => {
      const res = await api
        .post('/login')
        .set('X-Forwarded-For', '203.0.113.2')
        .type('form')
        .send({ username: 'admin', password: PASSWORD });
      expect(res.status).toBe(303);
      expect(res.headers.location).toBe('/dashboard');
      const cookies = setCookies(res);
      expect(cookies.get('rs_session')?.raw).toMatch(/HttpOnly/);
      expect(cookies.get('rs_session')?.raw).toMatch(/SameSite=Strict/);
      expect(cookies.get('rs_session')?.raw).not.toMatch(/Secure/);
      expect(cookies.get('rs_csrf')?.raw).not.toMatch(/HttpOnly/);
      expect(cookies.get('rs_csrf')?.raw).toMatch(/SameSite=Strict/);
    });

    it('marks the cookies Secure when the request came over HTTPS through the proxy', async () => {
      const res = await api
        .post('/login')
        .set('X-Forwarded-For', '203.0.113.3')
        .set('X-Forwarded-Proto', 'https')
        .type('form')
        .send({ password: PASSWORD });
      expect(res.status).toBe(303);
      expect(setCookies(res).get('rs_session')?.raw).toMatch(/; Secure/);
    });

    it.each([
      ['/admin/queues', '/admin/queues'],
      ['/dashboard#logs', '/dashboard#logs'],
      ['//evil.example/x', '/dashboard'],
      ['https://evil.example/', '/dashboard'],
    ])('honours only a same-origin next (%s → %s)', async (next, location) => {
      const res = await api.post('/login').set('X-Forwarded-For', '203.0.113.4').type('form').send({ password: PASSWORD, next });
      expect(res.status).toBe(303);
      expect(res.headers.location).toBe(location);
    });

    it.each([
      ['wrong password', { password: 'nope' }],
      ['wrong username', { username: 'root', password: PASSWORD }],
      ['empty password', { password: '' }],
    ])('refuses a %s with the original message, 401 and no cookie', async (_label, form) => {
      const res = await api.post('/login').set('X-Forwarded-For', '198.51.100.1').type('form').send(form);
      expect(res.status).toBe(401);
      expect(res.text).toContain('Identifiants invalides.');
      expect(res.headers['set-cookie']).toBeUndefined();
    });

    it('refuses a login form posted from another origin', async () => {
      const res = await api
        .post('/login')
        .set('X-Forwarded-For', '203.0.113.5')
        .set('Origin', 'https://evil.example')
        .type('form')
        .send({ password: PASSWORD });
      expect(res.status).toBe(403);
      expect(res.headers['set-cookie']).toBeUndefined();
    });
  });

  describe('login rate limit (per IP, failures only, Redis-backed)', () => {
    it('answers 429 with a clear page after the limit, JSON for JSON clients, and spares other IPs', async () => {
      const ip = '192.0.2.77';
      for (let i = 0; i < 3; i += 1) {
        const res = await api.post('/login').set('X-Forwarded-For', ip).type('form').send({ password: 'wrong' });
        expect(res.status).toBe(401);
      }
      const page = await api.post('/login').set('X-Forwarded-For', ip).type('form').send({ password: PASSWORD });
      expect(page.status).toBe(429);
      expect(page.text).toContain('Trop de tentatives');
      expect(page.headers['set-cookie']).toBeUndefined();
      const json = await api
        .post('/login')
        .set('X-Forwarded-For', ip)
        .set('Accept', 'application/json')
        .type('form')
        .send({ password: 'wrong' });
      expect(json.status).toBe(429);
      expect(json.body).toMatchObject({ success: false, code: 'rate_limited' });
      await login(world, { password: PASSWORD }, '192.0.2.78');
      const keys = await world.apiRedis.keys(`${world.prefix}:auth:login-rate:*`);
      expect(keys.length).toBeGreaterThan(0);
    });

    it('does not count successful logins', async () => {
      for (let i = 0; i < 5; i += 1) await login(world, { password: PASSWORD }, '192.0.2.90');
    });
  });

  describe('requireOperator on the dashboard API', () => {
    it('answers 401 JSON without a cookie (not a redirect)', async () => {
      const res = await api.get('/api/webhooks/config');
      expect(res.status).toBe(401);
      expect(res.body).toMatchObject({ success: false, code: 'unauthorized' });
    });

    it('never accepts the ingress bearer token', async () => {
      for (const value of [`Bearer ${TEST_TOKEN}`, TEST_TOKEN]) {
        const res = await api.get('/api/webhooks/config').set('Authorization', value);
        expect(res.status).toBe(401);
      }
    });

    it('accepts a session cookie', async () => {
      const session = await login(world);
      const res = await api.get('/api/webhooks/config').set('Cookie', session.cookie);
      expect(res.status).toBe(200);
      expect(res.body.success).toBe(true);
    });

    it('refuses a tampered session cookie', async () => {
      const session = await login(world);
      const res = await api.get('/api/webhooks/config').set(
        'Cookie',
        session.cookie.replace(/rs_session=([^;]+)/, (_m, t: string) => `rs_session=${t.slice(0, -3)}${t.endsWith('AAA') ? 'BBB' : 'AAA'}`),
      );
      expect(res.status).toBe(401);
    });

    it('sends page loads to /login with next', async () => {
      const res = await api.get('/dashboard');
      expect(res.status).toBe(303);
      expect(res.headers.location).toBe('/login?next=%2Fdashboard');
    });

    it.each([
      ['no CSRF header', undefined],
      ['a wrong CSRF header', 'not-the-token'],
    ])('refuses a state change with %s: 403 csrf_failed', async (_label, header) => {
      const session = await login(world);
      const req = api.post('/api/update_runtime_flags').set('Cookie', session.cookie).send({ gmail_ingress_enabled: true });
      const res = header ? await req.set('X-CSRF-Token', header) : await req;
      expect(res.status).toBe(403);
      expect(res.body).toMatchObject({ success: false, code: 'csrf_failed' });
    });

    it('refuses another session’s CSRF token', async () => {
      const a = await login(world);
      const b = await login(world);
      const res = await api.post('/api/update_runtime_flags').set('Cookie', a.cookie).set('X-CSRF-Token', b.csrf).send({});
      expect(res.status).toBe(403);
    });

    it('lets a state change through with the session’s CSRF token', async () => {
      const session = await login(world);
      const res = await api
        .post('/api/update_runtime_flags')
        .set('Cookie', session.cookie)
        .set('X-CSRF-Token', session.csrf)
        .send({ gmail_ingress_enabled: true });
      expect(res.status).toBe(200);
      expect(res.body.success).toBe(true);
    });

    it('GET /api/auth/session returns the CSRF token of the cookie', async () => {
      const session = await login(world);
      const res = await api.get('/api/auth/session').set('Cookie', session.cookie);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ success: true, user: 'admin', via: 'password', csrf_token: session.csrf });
    });
  });

  describe('the ingress never accepts a dashboard cookie', () => {
    it('answers 401 to a cookie without the bearer token', async () => {
      const session = await login(world);
      const res = await api
        .post('/api/ingress/gmail')
        .set('Cookie', session.cookie)
        .set('X-CSRF-Token', session.csrf)
        .send({ sender: 'a@b.c', body: 'x', subject: 's' });
      expect(res.status).toBe(401);
    });
  });

  describe('logout', () => {
    it.each(['get', 'post'] as const)('%s /logout revokes the session (deny-list) and clears the cookies', async (method) => {
      const session = await login(world);
      const res = await api[method]('/logout').set('Cookie', session.cookie);
      expect(res.status).toBe(303);
      expect(res.headers.location).toBe('/login');
      expect(setCookies(res).get('rs_session')?.value).toBe('');
      const after = await api.get('/api/webhooks/config').set('Cookie', session.cookie);
      expect(after.status).toBe(401);
    });
  });

  describe('magic links', () => {
    async function createLink(session: Session, body: Record<string, unknown> = {}) {
      const res = await api.post('/api/auth/magic-link').set('Cookie', session.cookie).set('X-CSRF-Token', session.csrf).send(body);
      expect(res.status).toBe(201);
      return res.body as { success: boolean; magic_link: string; expires_at: string | null; unlimited: boolean; id: string };
    }
    const pathOf = (link: string) => new URL(link).pathname;

    it('POST /api/auth/magic-link answers the original shape (201)', async () => {
      const session = await login(world);
      const body = await createLink(session, { unlimited: false });
      expect(body).toMatchObject({ success: true, unlimited: false });
      expect(body.magic_link).toMatch(new RegExp(`^${world.apiUrl}/login/magic/[\\w-]+\\.[\\w-]+\\.[\\w-]+$`));
      const ttl = Date.parse(body.expires_at!) - Date.now();
      expect(ttl).toBeGreaterThan(890_000);
      expect(ttl).toBeLessThanOrEqual(900_000);
    });

    it('needs the CSRF token to create a link', async () => {
      const session = await login(world);
      const res = await api.post('/api/auth/magic-link').set('Cookie', session.cookie).send({});
      expect(res.status).toBe(403);
    });

    it('logs in once, then refuses the same link with a clear page and no cookie', async () => {
      const session = await login(world);
      const { magic_link } = await createLink(session);
      const first = await api.get(pathOf(magic_link));
      expect(first.status).toBe(303);
      expect(first.headers.location).toBe('/dashboard');
      const cookies = setCookies(first);
      const cookie = `rs_session=${cookies.get('rs_session')?.value}`;
      const me = await api.get('/api/auth/session').set('Cookie', cookie);
      expect(me.body).toMatchObject({ success: true, via: 'magic_link' });
      const second = await api.get(pathOf(magic_link));
      expect(second.status).toBe(410);
      expect(second.text).toContain('Lien déjà utilisé.');
      expect(second.headers['set-cookie']).toBeUndefined();
    });

    it('two simultaneous clicks: exactly one gets a session', async () => {
      const session = await login(world);
      const { magic_link } = await createLink(session);
      const results = await Promise.all([api.get(pathOf(magic_link)), api.get(pathOf(magic_link)), api.get(pathOf(magic_link))]);
      expect(results.map((r) => r.status).sort()).toEqual([303, 410, 410]);
    });

    it('a click from a mail client (cross-site) gets a page that navigates on, so the Strict cookie follows', async () => {
      const session = await login(world);
      const { magic_link } = await createLink(session);
      const res = await api.get(pathOf(magic_link)).set('Sec-Fetch-Site', 'cross-site');
      expect(res.status).toBe(200);
      expect(res.text).toContain('http-equiv="refresh"');
      expect(setCookies(res).get('rs_session')?.value).toBeTruthy();
    });

    it('refuses an expired link (410) and a forged one (401)', async () => {
      const store = createMagicLinkStore({
        redis: world.apiRedis,
        prefix: world.prefix,
        key: deriveAuthKeys(world.apiEnv.SECRET_KEY).magicLink,
      });
      const expired = await store.issue({ unlimited: false, ttlSeconds: 60, now: new Date(Date.now() - 3_600_000) });
      const res = await api.get(`/login/magic/${expired.token}`);
      expect(res.status).toBe(410);
      expect(res.text).toContain('Lien de connexion expiré.');
      expect(res.headers['set-cookie']).toBeUndefined();
      const forged = await api.get('/login/magic/eyJhbGciOiJIUzI1NiJ9.eyJqdGkiOiJ4In0.c2lnbmF0dXJl');
      expect(forged.status).toBe(401);
      expect(forged.text).toContain('Lien de connexion invalide.');
      expect(forged.headers['set-cookie']).toBeUndefined();
    });

    it('the login form also accepts a magic token (the original’s magic_token field)', async () => {
      const session = await login(world);
      const { magic_link } = await createLink(session);
      const token = pathOf(magic_link).split('/').pop()!;
      const res = await api.post('/login').set('X-Forwarded-For', '203.0.113.9').type('form').send({ magic_token: token });
      expect(res.status).toBe(303);
      expect(setCookies(res).get('rs_session')).toBeDefined();
    });

    it('unlimited links are reusable, listed, revocable; a revoked one is refused', async () => {
      const session = await login(world);
      const link = await createLink(session, { unlimited: true });
      expect(link).toMatchObject({ unlimited: true, expires_at: null });
      expect((await api.get(pathOf(link.magic_link))).status).toBe(303);
      expect((await api.get(pathOf(link.magic_link))).status).toBe(303);
      const listed = await api.get('/api/auth/magic-links').set('Cookie', session.cookie);
      expect(listed.status).toBe(200);
      expect(listed.body.links.map((l: { id: string }) => l.id)).toContain(link.id);
      const noCsrf = await api.delete(`/api/auth/magic-links/${link.id}`).set('Cookie', session.cookie);
      expect(noCsrf.status).toBe(403);
      const revoked = await api.delete(`/api/auth/magic-links/${link.id}`).set('Cookie', session.cookie).set('X-CSRF-Token', session.csrf);
      expect(revoked.status).toBe(200);
      expect(revoked.body).toMatchObject({ success: true, revoked: true });
      const again = await api.delete(`/api/auth/magic-links/${link.id}`).set('Cookie', session.cookie).set('X-CSRF-Token', session.csrf);
      expect(again.status).toBe(404);
      const refused = await api.get(pathOf(link.magic_link));
      expect(refused.status).toBe(410);
      expect(refused.text).toContain('Lien révoqué.');
    });

    it('the magic-link endpoints need a session', async () => {
      expect((await api.post('/api/auth/magic-link').send({})).status).toBe(401);
      expect((await api.get('/api/auth/magic-links')).status).toBe(401);
      expect((await api.delete('/api/auth/magic-links/x')).status).toBe(401);
    });
  });

  describe('Bull Board', () => {
    it('is behind the login: pages redirect, its API answers 401', async () => {
      const page = await api.get('/admin/queues');
      expect(page.status).toBe(303);
      expect(page.headers.location).toBe('/login?next=%2Fadmin%2Fqueues');
      const apiRes = await api.get('/admin/queues/api/queues');
      expect(apiRes.status).toBe(401);
      const bearer = await api.get('/admin/queues/api/queues').set('Authorization', `Bearer ${TEST_TOKEN}`);
      expect(bearer.status).toBe(401);
    });

    it('lists every queue of the catalog and masks URLs in job data', async () => {
      const session = await login(world);
      await world.deliveryProducer.queue.add('deliver', {
        target: { url: 'https://hook.eu2.make.com/secret-token-123' },
        note: 'Bearer abc.def',
      } as never);
      const res = await api
        .get('/admin/queues/api/queues?activeQueue=delivery&status=waiting&page=1&jobsPerPage=10')
        .set('Cookie', session.cookie);
      expect(res.status).toBe(200);
      const names = (res.body.queues as Array<{ name: string }>).map((q) => q.name).sort();
      expect(names).toEqual(QUEUE_CATALOG.map((q) => q.name).sort());
      const text = JSON.stringify(res.body);
      expect(text).toContain('https://hook.eu2.make.com/***');
      expect(text).not.toContain('secret-token-123');
    });

    it('refuses a cross-origin state change, even with the cookie', async () => {
      const session = await login(world);
      const res = await api
        .put('/admin/queues/api/queues/delivery/retry/failed')
        .set('Cookie', session.cookie)
        .set('Origin', 'https://evil.example');
      expect(res.status).toBe(403);
      expect(res.body.code).toBe('csrf_failed');
    });
  });
});

describe('without TRIGGER_PAGE_PASSWORD', () => {
  let world: World;
  beforeAll(async () => {
    // An empty value is "unset" (whatever default the test world may carry).
    world = await startWorld({ workers: false, env: { TRIGGER_PAGE_PASSWORD: '' } });
  });
  afterAll(async () => {
    await world.close();
  });

  it.each([[''], ['anything'], ['undefined']])('refuses every password login (%j)', async (password) => {
    const res = await request(world.apiUrl).post('/login').type('form').send({ password });
    expect(res.status).toBe(401);
    expect(res.headers['set-cookie']).toBeUndefined();
  });
});
