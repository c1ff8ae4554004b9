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
    // The tests play several clients through a proxy on loopback (X-Forwarded-For), as behind Render's.
    world = await startWorld({
      workers: false,
      env: { TRIGGER_PAGE_PASSWORD: PASSWORD, LOGIN_RATE_LIMIT_MAX: '3', TRUST_PROXY: 'loopback' },
    });
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

  describe('logout (same-origin POST only)', () => {
    const stillIn = async (session: Session) => (await api.get('/api/webhooks/config').set('Cookie', session.cookie)).status === 200;

    it('POST /logout from our own page revokes the session (deny-list) and clears the cookies', async () => {
      const session = await login(world);
      const res = await api.post('/logout').set('Cookie', session.cookie).set('Origin', world.apiUrl);
      expect(res.status).toBe(303);
      expect(res.headers.location).toBe('/login');
      expect(setCookies(res).get('rs_session')?.value).toBe('');
      expect(await stillIn(session)).toBe(false);
    });

    it('Sec-Fetch-Site: same-origin, or the session’s CSRF token (form field or header), also log out', async () => {
      const a = await login(world);
      expect((await api.post('/logout').set('Cookie', a.cookie).set('Sec-Fetch-Site', 'same-origin')).status).toBe(303);
      expect(await stillIn(a)).toBe(false);
      const b = await login(world);
      expect((await api.post('/logout').set('Cookie', b.cookie).type('form').send({ csrf_token: b.csrf })).status).toBe(303);
      expect(await stillIn(b)).toBe(false);
      const c = await login(world);
      expect((await api.post('/logout').set('Cookie', c.cookie).set('X-CSRF-Token', c.csrf)).status).toBe(303);
      expect(await stillIn(c)).toBe(false);
    });

    it.each([
      ['Origin of another site', { Origin: 'https://evil.example' }],
      ['Sec-Fetch-Site: cross-site', { 'Sec-Fetch-Site': 'cross-site', Origin: 'https://evil.example' }],
      ['no Origin and no token', {}],
      ['a wrong CSRF token', { 'X-CSRF-Token': 'guess' }],
    ])('refuses a logout with %s (403), the session stays', async (_label, headers) => {
      const session = await login(world);
      const res = await api.post('/logout').set('Cookie', session.cookie).set(headers);
      expect(res.status).toBe(403);
      expect(res.headers['set-cookie']).toBeUndefined();
      expect(await stillIn(session)).toBe(true);
    });

    it('GET /logout (a cross-site link, an old bookmark) logs nobody out: it shows a button that posts', async () => {
      const session = await login(world);
      const res = await api.get('/logout').set('Cookie', session.cookie).set('Sec-Fetch-Site', 'cross-site');
      expect(res.status).toBe(200);
      expect(res.text).toContain('<form method="post" action="/logout"');
      expect(res.text).toContain(`name="csrf_token" value="${session.csrf}"`);
      expect(res.text).toContain('Se déconnecter');
      expect(res.headers['set-cookie']).toBeUndefined();
      expect(await stillIn(session)).toBe(true);
    });
  });

  describe('/login?error= shows fixed messages for fixed codes only', () => {
    it.each([
      ['session_expired', 'Session expirée. Reconnectez-vous.'],
      ['invalid_credentials', 'Identifiants invalides.'],
      ['magic_link_used', 'Lien déjà utilisé.'],
    ])('%s → %s', async (code, message) => {
      const res = await api.get(`/login?error=${code}`);
      expect(res.status).toBe(200);
      expect(res.text).toContain(message);
    });

    it.each(['Votre compte est suspendu : appelez le +33 1 23 45 67 89', '<script>alert(1)</script>', 'constructor', '__proto__'])(
      'never prints attacker-chosen text (%j)',
      async (text) => {
        const res = await api.get('/login').query({ error: text });
        expect(res.status).toBe(200);
        expect(res.text).not.toContain('role="alert"');
        expect(res.text).not.toContain('suspendu');
        expect(res.text).not.toContain('alert(1)');
      },
    );
  });

  describe('sessions are bound to what granted them', () => {
    it('"log out every session" (dashboard API) ends every session, this one included; new logins work', async () => {
      const a = await login(world);
      const b = await login(world);
      const res = await api.post('/api/auth/sessions/revoke-all').set('Cookie', a.cookie).set('X-CSRF-Token', a.csrf).send({});
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ success: true, revoked: true });
      expect(setCookies(res).get('rs_session')?.value).toBe('');
      for (const s of [a, b]) expect((await api.get('/api/webhooks/config').set('Cookie', s.cookie)).status).toBe(401);
      const fresh = await login(world);
      expect((await api.get('/api/webhooks/config').set('Cookie', fresh.cookie)).status).toBe(200);
    });

    it('"log out every session" needs the CSRF token', async () => {
      const a = await login(world);
      expect((await api.post('/api/auth/sessions/revoke-all').set('Cookie', a.cookie).send({})).status).toBe(403);
      expect((await api.get('/api/webhooks/config').set('Cookie', a.cookie)).status).toBe(200);
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

    it('revoking a permanent link ends the sessions it opened (not the others)', async () => {
      const operator = await login(world);
      const link = await createLink(operator, { unlimited: true, label: 'kiosk' });
      const opened = await api.get(pathOf(link.magic_link));
      expect(opened.status).toBe(303);
      const cookie = `rs_session=${setCookies(opened).get('rs_session')?.value}`;
      expect((await api.get('/api/webhooks/config').set('Cookie', cookie)).status).toBe(200);
      const listed = await api.get('/api/auth/magic-links').set('Cookie', operator.cookie);
      const entry = (listed.body.links as Array<Record<string, unknown>>).find((l) => l.id === link.id);
      expect(entry).toMatchObject({ label: 'kiosk', expires_at: null });
      expect(typeof entry?.created_at).toBe('string');
      expect(typeof entry?.last_used_at).toBe('string');
      await api.delete(`/api/auth/magic-links/${link.id}`).set('Cookie', operator.cookie).set('X-CSRF-Token', operator.csrf);
      expect((await api.get('/api/webhooks/config').set('Cookie', cookie)).status).toBe(401);
      expect((await api.get('/api/webhooks/config').set('Cookie', operator.cookie)).status).toBe(200);
    });

    it('the magic-link endpoints need a session', async () => {
      expect((await api.post('/api/auth/magic-link').send({})).status).toBe(401);
      expect((await api.get('/api/auth/magic-links')).status).toBe(401);
      expect((await api.delete('/api/auth/magic-links/x')).status).toBe(401);
      expect((await api.post('/api/auth/sessions/revoke-all').send({})).status).toBe(401);
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

describe('login rate limit without a trusted proxy (the default)', () => {
  let world: World;
  beforeAll(async () => {
    world = await startWorld({ workers: false, env: { TRIGGER_PAGE_PASSWORD: PASSWORD } });
  });
  afterAll(async () => {
    await world.close();
  });

  it('counts the real client: 12 wrong passwords under 12 forged X-Forwarded-For values get 429s', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 12; i += 1) {
      const res = await request(world.apiUrl)
        .post('/login')
        .set('X-Forwarded-For', `198.51.100.${i + 1}`)
        .type('form')
        .send({ password: `wrong-${i}` });
      statuses.push(res.status);
    }
    expect(statuses.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    expect(statuses.slice(5)).toEqual(Array(7).fill(429));
  });
});

describe('magic links with PUBLIC_BASE_URL, and a maximum age for permanent ones', () => {
  let world: World;
  beforeAll(async () => {
    world = await startWorld({
      workers: false,
      env: { TRIGGER_PAGE_PASSWORD: PASSWORD, PUBLIC_BASE_URL: 'https://signal.example.com', MAGIC_LINK_PERMANENT_MAX_AGE: '30d' },
    });
  });
  afterAll(async () => {
    await world.close();
  });

  it('writes PUBLIC_BASE_URL in the link whatever the Host header says, and lists when a permanent link ends', async () => {
    const session = await login(world);
    const res = await request(world.apiUrl)
      .post('/api/auth/magic-link')
      .set('Cookie', session.cookie)
      .set('X-CSRF-Token', session.csrf)
      .set('Host', 'evil.example')
      .send({ unlimited: true });
    expect(res.status).toBe(201);
    expect(res.body.magic_link).toMatch(/^https:\/\/signal\.example\.com\/login\/magic\//);
    const listed = await request(world.apiUrl).get('/api/auth/magic-links').set('Cookie', session.cookie);
    const entry = (listed.body.links as Array<{ id: string; created_at: string; expires_at: string }>).find((l) => l.id === res.body.id);
    expect(Date.parse(entry!.expires_at) - Date.parse(entry!.created_at)).toBe(30 * 86_400_000);
  });

  it('a login form posted from PUBLIC_BASE_URL’s origin is same-origin (a TLS proxy that is not trusted)', async () => {
    const res = await request(world.apiUrl)
      .post('/login')
      .set('Origin', 'https://signal.example.com')
      .type('form')
      .send({ password: PASSWORD });
    expect(res.status).toBe(303);
  });
});
