import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Webhook } from 'standardwebhooks';
import type { DeliveryTarget } from '@render-signal/contracts';
import { createWebhookDeliverer, type WebhookDeliverer } from './deliver-webhook';
import { PermanentDeliveryError, RetryableDeliveryError } from './errors';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

type Handler = (req: IncomingMessage, res: ServerResponse, seen: Seen) => void;

/** A loopback server whose answer each test sets; it records every request it read. */
function loopback(server: Server) {
  const state = { handler: ((_req, res) => res.end('ok')) as Handler, seen: [] as Seen[], url: '' };
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const seen = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      state.seen.push(seen);
      state.handler(req, res, seen);
    });
  });
  return state;
}

const listen = (server: Server) =>
  new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));

const target = (url: string, extra: Partial<DeliveryTarget> = {}): DeliveryTarget => ({
  url,
  origin: 'default',
  mode: 'json',
  fallback_on_415: true,
  tls_verify: true,
  require_success_flag: false,
  ...extra,
});

const BODY = Buffer.from(JSON.stringify({ email_id: 'e1', subject: 'Média Solution', delivery_links: [] }), 'utf8');

describe('createWebhookDeliverer (undici, on loopback servers)', () => {
  const http = createServer();
  const plain = loopback(http);
  const certDir = mkdtempSync(join(tmpdir(), 'rs-tls-'));
  let https: Server;
  let secure: ReturnType<typeof loopback>;
  let deliverer: WebhookDeliverer;
  let guarded: WebhookDeliverer;
  let now = 1_700_000_000_000;

  beforeAll(async () => {
    // A self-signed certificate for 127.0.0.1: what a receiver saved with tls_verify=false looks like.
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
      '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(certDir, 'key.pem'), '-out', join(certDir, 'cert.pem'),
    ], { stdio: 'ignore' }); // prettier-ignore
    https = createTlsServer({ key: readFileSync(join(certDir, 'key.pem')), cert: readFileSync(join(certDir, 'cert.pem')) });
    secure = loopback(https);
    plain.url = `http://127.0.0.1:${await listen(http)}`;
    secure.url = `https://127.0.0.1:${await listen(https)}`;
    const common = { timeoutMs: 2_000, userAgent: 'render-signal-test/1', secret: SECRET, now: () => now };
    deliverer = createWebhookDeliverer({ ...common, allowPrivateNetwork: true });
    guarded = createWebhookDeliverer({ ...common, allowPrivateNetwork: false });
  });

  afterAll(async () => {
    deliverer.close();
    guarded.close();
    http.closeAllConnections();
    https.closeAllConnections();
    await Promise.all([new Promise((r) => http.close(r)), new Promise((r) => https.close(r))]);
    rmSync(certDir, { recursive: true, force: true });
  });

  it('POSTs the exact bytes with Standard Webhooks headers that verify, and reports the answer', async () => {
    plain.handler = (_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('  Accepted \n');
    now = Date.now();
    const result = await deliverer.deliverWebhook({ target: target(`${plain.url}/hook?x=1`), webhookId: 'msg_abc', body: BODY });
    expect(result).toMatchObject({ status: 200, response_excerpt: 'Accepted', attempted_modes: ['json'], fallback_used: false });
    const seen = plain.seen.at(-1)!;
    expect(seen).toMatchObject({ method: 'POST', url: '/hook?x=1', body: BODY.toString('utf8') });
    expect(seen.headers).toMatchObject({
      'content-type': 'application/json; charset=utf-8',
      'user-agent': 'render-signal-test/1',
      'webhook-id': 'msg_abc',
      'content-length': String(BODY.length),
    });
    const headers = Object.fromEntries(Object.entries(seen.headers).map(([k, v]) => [k, String(v)]));
    expect(() => new Webhook(SECRET).verify(seen.body, headers)).not.toThrow();
  });

  it.each<[string, number, Record<string, string>, string, 'retryable' | 'permanent', Record<string, unknown>]>([
    ['a 500', 500, {}, 'boom', 'retryable', { status: 500, failure_reason: 'upstream_server_error', response_excerpt: 'boom' }],
    ['a 404', 404, {}, 'no such hook', 'permanent', { status: 404, failure_reason: 'upstream_client_error' }],
    ['a 429 with Retry-After: 7', 429, { 'retry-after': '7' }, '', 'retryable', { status: 429, retry_after_ms: 7_000 }],
    [
      'a 503 with an HTTP-date Retry-After',
      503,
      { 'retry-after': 'Tue, 14 Nov 2023 22:13:40 GMT' },
      '',
      'retryable',
      { retry_after_ms: 20_000 },
    ],
    ['a 302 (redirects are not followed)', 302, { location: 'http://169.254.169.254/' }, '', 'retryable', { status: 302 }],
  ])('%s is classified as the delivery package says', async (_name, status, headers, body, kind, facts) => {
    plain.handler = (_req, res) => res.writeHead(status, headers).end(body);
    now = 1_700_000_000_000;
    const before = plain.seen.length;
    const error = await deliverer.deliverWebhook({ target: target(`${plain.url}/hook`), webhookId: 'msg_x', body: BODY }).catch((e) => e);
    expect(error).toBeInstanceOf(kind === 'permanent' ? PermanentDeliveryError : RetryableDeliveryError);
    expect((error as RetryableDeliveryError).facts).toMatchObject(facts);
    expect(plain.seen.length - before).toBe(1); // one request: no redirect followed, no retry inside the attempt
  });

  it('falls back to a form body on 415, once, and says so', async () => {
    plain.handler = (req, res) =>
      req.headers['content-type']?.startsWith('application/json') ? res.writeHead(415).end() : res.writeHead(200).end('{}');
    const before = plain.seen.length;
    const result = await deliverer.deliverWebhook({ target: target(`${plain.url}/hook`), webhookId: 'msg_415', body: BODY });
    expect(result).toMatchObject({ status: 200, attempted_modes: ['json', 'form'], fallback_used: true });
    expect(plain.seen.slice(before).map((s) => s.headers['content-type'])).toEqual([
      'application/json; charset=utf-8',
      'application/x-www-form-urlencoded; charset=utf-8',
    ]);
  });

  it('requires {"success": true} where the target asks for it (the original check)', async () => {
    plain.handler = (_req, res) => res.writeHead(200).end('{"success": false}');
    const strict = target(`${plain.url}/hook`, { require_success_flag: true });
    await expect(deliverer.deliverWebhook({ target: strict, webhookId: 'msg_s', body: BODY })).rejects.toMatchObject({
      facts: { failure_reason: 'remote_application_error', status: 200 },
    });
    plain.handler = (_req, res) => res.writeHead(200).end('{"success": true}');
    await expect(deliverer.deliverWebhook({ target: strict, webhookId: 'msg_s', body: BODY })).resolves.toMatchObject({ status: 200 });
  });

  it('bounds the whole attempt by the target timeout (a receiver that never answers)', async () => {
    plain.handler = () => undefined; // reads the request, never answers
    const started = Date.now();
    const error = await deliverer
      .deliverWebhook({ target: target(`${plain.url}/hook`, { timeout_ms: 300 }), webhookId: 'msg_t', body: BODY })
      .catch((e) => e);
    expect(error).toBeInstanceOf(RetryableDeliveryError);
    // Without the bound the attempt would wait for undici's 300 s header timeout (the test's own timeout fails it
    // first); the timer never fires early. No upper wall-clock bound: a loaded box may fire it late.
    expect((error as RetryableDeliveryError).facts.failure_reason).toBe('timeout');
    expect(Date.now() - started).toBeGreaterThanOrEqual(290); // a lower bound only (Date.now() granularity)
  });

  it('bounds a body that trickles after the headers too', async () => {
    plain.handler = (_req, res) => {
      res.writeHead(200);
      res.write('{"success":');
    };
    const error = await deliverer
      .deliverWebhook({ target: target(`${plain.url}/hook`, { timeout_ms: 300 }), webhookId: 'msg_b', body: BODY })
      .catch((e) => e);
    expect((error as RetryableDeliveryError).facts?.failure_reason).toBe('timeout');
  });

  it('reports a refused connection as a retryable network error', async () => {
    const closed = createServer();
    const port = await listen(closed);
    await new Promise((r) => closed.close(r));
    const error = await deliverer
      .deliverWebhook({ target: target(`http://127.0.0.1:${port}/`), webhookId: 'm', body: BODY })
      .catch((e) => e);
    expect(error).toBeInstanceOf(RetryableDeliveryError);
    expect((error as RetryableDeliveryError).facts).toMatchObject({ failure_reason: 'network_error' });
    expect((error as RetryableDeliveryError).facts.response_excerpt).toMatch(/ECONNREFUSED/);
  });

  it('verifies TLS unless the target was saved with tls_verify=false', async () => {
    secure.handler = (_req, res) => res.writeHead(200).end('ok');
    const verified = await deliverer.deliverWebhook({ target: target(`${secure.url}/hook`), webhookId: 'm1', body: BODY }).catch((e) => e);
    expect(verified).toBeInstanceOf(RetryableDeliveryError);
    expect((verified as RetryableDeliveryError).facts.failure_reason).toBe('network_error');
    expect(secure.seen).toHaveLength(0);
    const unverified = target(`${secure.url}/hook`, { tls_verify: false });
    await expect(deliverer.deliverWebhook({ target: unverified, webhookId: 'm2', body: BODY })).resolves.toMatchObject({ status: 200 });
    expect(secure.seen).toHaveLength(1);
  });

  it('refuses private addresses without connecting: a literal address, and a name that resolves to one', async () => {
    const before = plain.seen.length + secure.seen.length;
    const port = new URL(secure.url).port;
    for (const url of [`https://127.0.0.1:${port}/`, `https://localhost:${port}/`, `${plain.url}/hook`]) {
      const error = await guarded
        .deliverWebhook({ target: target(url, { tls_verify: false }), webhookId: 'm', body: BODY })
        .catch((e) => e);
      expect(error).toBeInstanceOf(PermanentDeliveryError);
      expect((error as PermanentDeliveryError).facts.failure_reason).toBe('blocked_target');
    }
    expect(plain.seen.length + secure.seen.length).toBe(before);
  });

  it('reuses keep-alive connections for consecutive deliveries', async () => {
    const requestsBySocket = new Map<unknown, number>();
    plain.handler = (req, res) => {
      requestsBySocket.set(req.socket, (requestsBySocket.get(req.socket) ?? 0) + 1);
      res.writeHead(200).end('ok');
    };
    for (let i = 0; i < 20; i++) await deliverer.deliverWebhook({ target: target(`${plain.url}/k`), webhookId: `k${i}`, body: BODY });
    // undici's pool may open another connection while one is being released (how many depends on the machine's
    // load): what never varies is that connections are reused, not one opened per request.
    expect(requestsBySocket.size).toBeLessThan(20);
    expect(Math.max(...requestsBySocket.values())).toBeGreaterThan(1);
  });

  it('keeps at most 1 MiB of a huge answer and still classifies it', async () => {
    plain.handler = (_req, res) => res.writeHead(500).end('x'.repeat(3 * 1024 * 1024));
    const error = await deliverer.deliverWebhook({ target: target(`${plain.url}/big`), webhookId: 'big', body: BODY }).catch((e) => e);
    expect((error as RetryableDeliveryError).facts).toMatchObject({ status: 500, failure_reason: 'upstream_server_error' });
    expect((error as RetryableDeliveryError).facts.response_excerpt).toHaveLength(200);
  });
});
