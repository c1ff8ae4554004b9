import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createGmailClient, GmailApiError, GmailRateLimitError, retryAfterMs } from './gmail-client';
import { refreshAccessToken, TokenEndpointError, TokenRevokedError } from './google-oauth';
import { oidcIssuers } from './pubsub-push';

describe('retryAfterMs', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');
  it.each([
    ['3', 3_000],
    ['0.5', 500],
    ['Thu, 01 Jan 2026 00:00:10 GMT', 10_000],
    ['Wed, 31 Dec 2025 23:00:00 GMT', 0],
    ['soon', undefined],
    [undefined, undefined],
  ])('%s → %s', (header, expected) => {
    expect(retryAfterMs(header, now)).toBe(expected);
  });
});

describe('oidcIssuers', () => {
  it.each([
    ['https://accounts.google.com', ['https://accounts.google.com', 'accounts.google.com']],
    ['accounts.google.com', ['https://accounts.google.com', 'accounts.google.com']],
    ['https://issuer.example', ['https://issuer.example']],
  ])('%s', (configured, expected) => {
    expect(oidcIssuers(configured)).toEqual(expected);
  });
});

/** A Gmail endpoint answering a scripted sequence of responses. */
describe('Gmail client and token endpoint against a scripted server', () => {
  let server: Server;
  let url = '';
  let script: Array<{ status: number; body: unknown; headers?: Record<string, string> }> = [];
  let hits = 0;
  beforeAll(async () => {
    server = createServer((_req, res) => {
      hits += 1;
      const next = script.shift() ?? { status: 200, body: { emailAddress: 'a@example.org', historyId: '1' } };
      res.writeHead(next.status, { 'content-type': 'application/json', ...next.headers });
      res.end(JSON.stringify(next.body));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const rateLimited = (status: number, reason: string, headers?: Record<string, string>) => ({
    status,
    body: { error: { code: status, message: 'slow down', errors: [{ reason }], status: 'RESOURCE_EXHAUSTED' } },
    ...(headers ? { headers } : {}),
  });
  const client = (sleeps: number[], maxRateLimitWaitMs = 10_000) =>
    createGmailClient({
      baseUrl: url,
      token: { get: async () => 't', invalidate: () => {} },
      maxRateLimitWaitMs,
      rateLimitBaseDelayMs: 100,
      sleep: async (ms) => {
        sleeps.push(ms);
      },
    });

  it('waits as Retry-After says on 429, then exponentially on 403 rateLimitExceeded, and succeeds', async () => {
    script = [rateLimited(429, 'rateLimitExceeded', { 'retry-after': '2' }), rateLimited(403, 'userRateLimitExceeded')];
    const sleeps: number[] = [];
    await expect(client(sleeps).getProfile()).resolves.toMatchObject({ historyId: '1' });
    expect(sleeps[0]).toBe(2_000);
    expect(sleeps[1]).toBeGreaterThanOrEqual(150); // 100 ms × 2 ± jitter
    expect(sleeps[1]).toBeLessThanOrEqual(250);
  });

  it('gives up with the GmailApiError once the total wait would pass its bound', async () => {
    script = [rateLimited(429, 'rateLimitExceeded', { 'retry-after': '3' }), rateLimited(429, 'rateLimitExceeded', { 'retry-after': '3' })];
    const sleeps: number[] = [];
    const error = await client(sleeps, 5_000)
      .getProfile()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GmailApiError);
    expect(error).toMatchObject({ status: 429, reason: 'rateLimitExceeded' });
    expect(sleeps).toEqual([3_000]);
    script = [];
  });

  it('makes at most 6 requests per call when Google keeps answering Retry-After: 0', async () => {
    script = Array.from({ length: 50 }, () => rateLimited(429, 'rateLimitExceeded', { 'retry-after': '0' }));
    const before = hits;
    const sleeps: number[] = [];
    const error = await client(sleeps)
      .getProfile()
      .catch((e: unknown) => e);
    expect(hits - before).toBe(6);
    expect(error).toBeInstanceOf(GmailRateLimitError);
    expect((error as GmailRateLimitError).retryAt).toBeUndefined(); // the job's own backoff decides
    script = [];
  });

  it('answers when to come back for a Retry-After longer than the per-call budget, without waiting', async () => {
    script = [rateLimited(429, 'rateLimitExceeded', { 'retry-after': '120' })];
    const sleeps: number[] = [];
    const asked = Date.now();
    const error = await client(sleeps, 40_000)
      .getProfile()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GmailRateLimitError);
    expect(sleeps).toEqual([]);
    expect((error as GmailRateLimitError).retryAt).toBeGreaterThanOrEqual(asked + 120_000);
    expect((error as GmailRateLimitError).retryAt).toBeLessThan(asked + 125_000);
    script = [];
  });

  it('does not retry a plain 403 (permission)', async () => {
    script = [{ status: 403, body: { error: { code: 403, errors: [{ reason: 'insufficientPermissions' }] } } }];
    const before = hits;
    await expect(client([]).getProfile()).rejects.toMatchObject({ status: 403, reason: 'insufficientPermissions' });
    expect(hits - before).toBe(1);
  });

  it.each([
    ['invalid_grant', 400, TokenRevokedError],
    ['unauthorized_client', 401, TokenRevokedError],
    ['access_denied', 400, TokenRevokedError],
    ['invalid_client', 401, TokenEndpointError],
    ['temporarily_unavailable', 503, TokenEndpointError],
  ])('token endpoint %s → %p', async (code, status, kind) => {
    script = [{ status, body: { error: code, error_description: 'no' } }];
    const error = await refreshAccessToken({ tokenUrl: url, clientId: 'c', clientSecret: 's' }, 'r').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(kind);
    if (error instanceof TokenRevokedError) expect(error.code).toBe(code);
    script = [];
  });
});
