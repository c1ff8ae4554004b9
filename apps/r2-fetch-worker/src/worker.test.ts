// The Worker bundled with esbuild and run in miniflare (workerd) with a local R2 bucket;
// sources are served by a loopback HTTP server that counts the requests it gets.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { Miniflare } from 'miniflare';
import { bundleR2FetchWorker } from './bundle-worker.test-support';

const MIB = 1024 * 1024;
const TOKEN = 'test-token-7f3a';
const BUCKET_NAME = 'offload-test';
const PUBLIC_BASE_URL = 'https://files.test';
const MAX_BYTES = 16 * MIB;
const PART_BYTES = 5 * MIB;

const files: Record<string, Buffer> = {
  'known-6mb.bin': randomBytes(6 * MIB),
  'chunked-12mb.bin': randomBytes(12 * MIB + 12345),
  'chunked-10mb.bin': randomBytes(2 * PART_BYTES),
  'chunked-small.bin': randomBytes(100 * 1024),
  'my file.bin': randomBytes(64 * 1024),
  'report.pdf': randomBytes(32 * 1024),
  'redirect-target.bin': randomBytes(1024),
  'too-large.bin': randomBytes(MAX_BYTES + 1),
  'existing.bin': randomBytes(2 * MIB),
};

function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

function file(name: string): Buffer {
  const data = files[name];
  if (!data) throw new Error(`no test file ${name}`);
  return data;
}

const requestCounts = new Map<string, number>();

function sendChunked(res: http.ServerResponse, data: Buffer): void {
  // No Content-Length: Node answers with Transfer-Encoding: chunked.
  res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
  const chunkSize = 64 * 1024 + 7;
  let offset = 0;
  const writeMore = (): void => {
    while (offset < data.length) {
      const chunk = data.subarray(offset, offset + chunkSize);
      offset += chunk.length;
      if (!res.write(chunk)) {
        res.once('drain', writeMore);
        return;
      }
    }
    res.end();
  };
  writeMore();
}

const sourceServer = http.createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://source');
  const path = decodeURIComponent(url.pathname);
  requestCounts.set(path, (requestCounts.get(path) ?? 0) + 1);
  const [, route, name = ''] = /^\/([^/]+)\/?(.*)$/.exec(path) ?? [];
  const data = files[name];

  if (route === 'files' && data) {
    res.writeHead(200, { 'Content-Type': 'application/x-test', 'Content-Length': data.length });
    res.end(data);
  } else if (route === 'chunked' && data) {
    sendChunked(res, data);
  } else if (route === 'named' && data) {
    res.writeHead(200, {
      'Content-Type': 'application/pdf',
      'Content-Length': data.length,
      'Content-Disposition': `attachment; filename="resume.pdf"; filename*=UTF-8''r%C3%A9sum%C3%A9%20final.pdf`,
    });
    res.end(data);
  } else if (route === 'redirect-allowed') {
    res.writeHead(302, { Location: `/files/${encodeURIComponent(name)}` });
    res.end();
  } else if (route === 'redirect-elsewhere') {
    // Same server, but under a host name that is not on the Worker's allowlist.
    res.writeHead(302, { Location: `http://localhost:${sourcePort()}/files/redirect-target.bin` });
    res.end();
  } else if (route === 'loop') {
    res.writeHead(302, { Location: '/loop' });
    res.end();
  } else if (route === 'status') {
    res.writeHead(Number(name), { 'Content-Type': 'text/plain' });
    res.end('nope');
  } else if (route === 'truncated') {
    res.writeHead(200, { 'Content-Length': 2 * MIB });
    res.write(randomBytes(MIB / 2), () => res.destroy());
  } else {
    res.writeHead(404);
    res.end();
  }
});

function sourcePort(): number {
  return (sourceServer.address() as AddressInfo).port;
}

function sourceUrl(path: string): string {
  return `http://127.0.0.1:${sourcePort()}${path}`;
}

function keyFor(provider: string, url: string, filename: string): string {
  const digest = createHash('sha256').update(url).digest('hex');
  return `${provider}/${digest.slice(0, 8)}/${digest.slice(8, 16)}/${filename}`;
}

let mf: Miniflare;
// The Worker's console output (one JSON event a line), captured instead of cluttering the test output.
const workerLogLines: string[] = [];

function collectLines(stream: Readable): void {
  createInterface({ input: stream }).on('line', (line) => workerLogLines.push(line));
}

async function waitForLogEvent(event: string, objectKey: string): Promise<string> {
  for (let attempt = 0; attempt < 50; attempt += 1) {
    const line = workerLogLines.find((candidate) => candidate.includes(`"event":"${event}"`) && candidate.includes(objectKey));
    if (line) return line;
    await sleep(50);
  }
  throw new Error(`no ${event} log line for ${objectKey}; got:\n${workerLogLines.join('\n')}`);
}

beforeAll(async () => {
  sourceServer.listen(0, '127.0.0.1');
  await once(sourceServer, 'listening');
  const script = await bundleR2FetchWorker();
  mf = new Miniflare({
    modules: true,
    script,
    compatibilityDate: '2025-07-18',
    r2Buckets: ['BUCKET'],
    handleRuntimeStdio(stdout, stderr) {
      collectLines(stdout);
      collectLines(stderr);
    },
    bindings: {
      R2_FETCH_TOKEN: TOKEN,
      PUBLIC_BASE_URL: `${PUBLIC_BASE_URL}/`,
      BUCKET_NAME,
      // The loopback source server stands in for the file hosts.
      ALLOWED_HOSTS: '127.0.0.1',
      ALLOW_HTTP_SOURCES: 'true',
      MAX_BYTES: String(MAX_BYTES),
      MULTIPART_PART_BYTES: String(PART_BYTES),
      MAX_AGE_DAYS: '7',
      CLEANUP_PAGE_SIZE: '2',
    },
  });
  await mf.ready;
}, 60_000);

afterAll(async () => {
  await mf?.dispose();
  sourceServer.close();
});

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

async function callWorker(body: unknown, headers: Record<string, string> = { 'X-R2-FETCH-TOKEN': TOKEN }): Promise<Answer> {
  const response = await mf.dispatchFetch('http://worker.test/', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

function fetchRequest(
  path: string,
  filename: string,
  provider = 'dropbox',
): { source_url: string; object_key: string; bucket: string; provider: string; email_id: string } {
  const url = sourceUrl(path);
  return { source_url: url, object_key: keyFor(provider, url, filename), bucket: BUCKET_NAME, provider, email_id: 'e-0123456789abcdef' };
}

async function bucket() {
  return mf.getR2Bucket('BUCKET');
}

async function storedBytes(key: string): Promise<Buffer | undefined> {
  const object = await (await bucket()).get(key);
  return object ? Buffer.from(await object.arrayBuffer()) : undefined;
}

describe('POST / stores the source in R2', () => {
  it.each([
    // multipartParts: R2 gives a multipart object the etag "<md5 of part md5s>-<part count>".
    ['with Content-Length (FixedLengthStream)', '/files/known-6mb.bin', 'known-6mb.bin', 'application/x-test', undefined],
    ['chunked, several multipart parts and a remainder', '/chunked/chunked-12mb.bin', 'chunked-12mb.bin', 'application/octet-stream', 3],
    ['chunked, exactly two parts', '/chunked/chunked-10mb.bin', 'chunked-10mb.bin', 'application/octet-stream', 2],
    [
      'chunked, smaller than one part (single put)',
      '/chunked/chunked-small.bin',
      'chunked-small.bin',
      'application/octet-stream',
      undefined,
    ],
    ['after an allowed redirect', '/redirect-allowed/redirect-target.bin', 'redirect-target.bin', 'application/x-test', undefined],
  ])('%s', async (_case, path, name, contentType, multipartParts) => {
    const request = fetchRequest(path, name);
    const data = file(name);

    const answer = await callWorker(request);

    expect(answer).toEqual({
      status: 200,
      body: {
        success: true,
        r2_url: `${PUBLIC_BASE_URL}/${request.object_key}`,
        object_key: request.object_key,
        original_filename: name,
        size_bytes: data.length,
        content_type: contentType,
        already_stored: false,
      },
    });
    const stored = await (await bucket()).get(request.object_key);
    expect(stored).not.toBeNull();
    expect(sha256(new Uint8Array(await stored!.arrayBuffer()))).toBe(sha256(data));
    expect(stored!.size).toBe(data.length);
    expect(stored!.etag).toMatch(multipartParts === undefined ? /^[0-9a-f]{32}$/ : new RegExp(`^[0-9a-f]{32}-${multipartParts}$`));
    expect(stored!.httpMetadata).toEqual({ contentType, contentDisposition: `attachment; filename="${name}"; filename*=UTF-8''${name}` });
    expect(stored!.customMetadata).toEqual({
      source_url: request.source_url,
      provider: 'dropbox',
      email_id: request.email_id,
      original_filename: name,
    });
  });

  it('takes the original filename from the source’s Content-Disposition', async () => {
    const request = fetchRequest('/named/report.pdf', 'report.pdf', 'fromsmash');
    const answer = await callWorker(request);
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ original_filename: 'résumé final.pdf', content_type: 'application/pdf' });
    const stored = await (await bucket()).head(request.object_key);
    expect(stored?.httpMetadata?.contentDisposition).toBe(
      `attachment; filename="r_sum_ final.pdf"; filename*=UTF-8''r%C3%A9sum%C3%A9%20final.pdf`,
    );
    expect(stored?.customMetadata?.original_filename).toBe('résumé final.pdf');
  });

  it('decodes the last path segment and percent-encodes the r2_url', async () => {
    const request = fetchRequest('/files/my%20file.bin', 'my file.bin');
    const answer = await callWorker(request);
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({
      original_filename: 'my file.bin',
      r2_url: `${PUBLIC_BASE_URL}/${request.object_key.replace(' ', '%20')}`,
    });
    expect(sha256((await storedBytes(request.object_key))!)).toBe(sha256(file('my file.bin')));
  });

  it('logs the source without its query string (Dropbox rlkey is an access key)', async () => {
    const request = fetchRequest('/files/redirect-target.bin?rlkey=SECRET-RLKEY&dl=1', 'redirect-target.bin');
    expect((await callWorker(request)).status).toBe(200);
    const line = await waitForLogEvent('r2_fetch.stored', request.object_key);
    expect(JSON.parse(line)).toMatchObject({ source: sourceUrl('/files/redirect-target.bin'), email_id: request.email_id });
    expect(workerLogLines.join('\n')).not.toContain('SECRET-RLKEY');
  });

  it('answers from the bucket without fetching again when the object exists', async () => {
    const request = fetchRequest('/files/existing.bin', 'existing.bin');
    const first = await callWorker(request);
    const second = await callWorker({ ...request, email_id: 'another-email' });

    expect(first.status).toBe(200);
    expect(second).toEqual({ status: 200, body: { ...first.body, already_stored: true } });
    expect(requestCounts.get('/files/existing.bin')).toBe(1);
  });
});

describe('POST / refusals', () => {
  it.each([
    ['a wrong token', { 'X-R2-FETCH-TOKEN': 'wrong' }],
    ['a token with a matching prefix', { 'X-R2-FETCH-TOKEN': `${TOKEN}x` }],
    ['an empty token', { 'X-R2-FETCH-TOKEN': '' }],
    ['no token', {}],
  ])('401 with %s, before touching the source', async (_case, headers) => {
    const request = fetchRequest('/files/known-6mb.bin', 'unauthorized.bin');
    const countBefore = requestCounts.get('/files/known-6mb.bin') ?? 0;
    expect(await callWorker(request, headers)).toEqual({ status: 401, body: { success: false, error: 'unauthorized' } });
    expect(requestCounts.get('/files/known-6mb.bin') ?? 0).toBe(countBefore);
    expect(await (await bucket()).head(request.object_key)).toBeNull();
  });

  it.each([
    ['invalid JSON', '{"source_url":', 'body must be JSON'],
    ['a missing object_key', { source_url: 'http://127.0.0.1/x', bucket: BUCKET_NAME, provider: 'dropbox' }, 'object_key is required'],
    [
      'a traversal in the key',
      { source_url: 'http://127.0.0.1/x', object_key: 'dropbox/0123abcd/89ef4567/..', bucket: BUCKET_NAME, provider: 'dropbox' },
      'object_key must not contain ".."',
    ],
    [
      'a key of the wrong shape',
      { source_url: 'http://127.0.0.1/x', object_key: 'dropbox/file.bin', bucket: BUCKET_NAME, provider: 'dropbox' },
      'object_key must look like <provider>/<8 hex>/<8 hex>/<filename>',
    ],
    [
      'another bucket',
      { source_url: 'http://127.0.0.1/x', object_key: 'dropbox/0123abcd/89ef4567/x', bucket: 'other', provider: 'dropbox' },
      'bucket does not match the bucket bound to this Worker',
    ],
  ])('400 with %s', async (_case, body, reason) => {
    expect(await callWorker(body)).toEqual({ status: 400, body: { success: false, error: 'invalid_request', reason } });
  });

  it.each([
    ['a host off the allowlist', 'https://example.com/file.bin', 'host_not_allowed'],
    ['a look-alike host', 'http://127.0.0.1.example.com/file.bin', 'host_not_allowed'],
    ['a non-http scheme', 'ftp://127.0.0.1/file.bin', 'scheme_not_allowed'],
    ['credentials in the URL', 'http://user:pw@127.0.0.1/files/known-6mb.bin', 'credentials_in_url'],
  ])('403 for %s', async (_case, url, reason) => {
    const request = { source_url: url, object_key: keyFor('dropbox', url, 'file.bin'), bucket: BUCKET_NAME, provider: 'dropbox' };
    expect(await callWorker(request)).toEqual({ status: 403, body: { success: false, error: 'host_not_allowed', reason } });
  });

  it('403 for a redirect to a host off the allowlist, without following it', async () => {
    const request = fetchRequest('/redirect-elsewhere', 'file.bin');
    const targetCountBefore = requestCounts.get('/files/redirect-target.bin') ?? 0;
    expect(await callWorker(request)).toEqual({
      status: 403,
      body: { success: false, error: 'host_not_allowed', reason: 'redirect: host_not_allowed' },
    });
    expect(requestCounts.get('/redirect-elsewhere')).toBe(1);
    expect(requestCounts.get('/files/redirect-target.bin') ?? 0).toBe(targetCountBefore);
    expect(await (await bucket()).head(request.object_key)).toBeNull();
  });

  it.each([
    ['a 404', '/status/404', 'source_status_404', undefined],
    ['a 500', '/status/500', 'source_status_500', undefined],
    ['a body cut short', '/truncated', 'source_fetch_failed', undefined],
    ['a redirect loop', '/loop', 'source_fetch_failed', 'too many redirects'],
  ])('502 for %s from the source, storing nothing', async (_case, path, error, reason) => {
    const request = fetchRequest(path, 'file.bin');
    const answer = await callWorker(request);
    expect(answer).toEqual({ status: 502, body: reason === undefined ? { success: false, error } : { success: false, error, reason } });
    expect(await (await bucket()).head(request.object_key)).toBeNull();
  });

  it('502 when the source is unreachable', async () => {
    const closed = http.createServer();
    closed.listen(0, '127.0.0.1');
    await once(closed, 'listening');
    const port = (closed.address() as AddressInfo).port;
    closed.close();
    await once(closed, 'close');
    const url = `http://127.0.0.1:${port}/file.bin`;
    const request = { source_url: url, object_key: keyFor('dropbox', url, 'file.bin'), bucket: BUCKET_NAME, provider: 'dropbox' };
    expect(await callWorker(request)).toEqual({ status: 502, body: { success: false, error: 'source_fetch_failed' } });
  });

  it.each([
    ['declared by Content-Length', '/files/too-large.bin'],
    ['found while streaming a chunked body', '/chunked/too-large.bin'],
  ])('413 for a file over MAX_BYTES %s, storing nothing', async (_case, path) => {
    const request = fetchRequest(path, 'too-large.bin');
    expect(await callWorker(request)).toEqual({ status: 413, body: { success: false, error: 'too_large' } });
    expect(await (await bucket()).head(request.object_key)).toBeNull();
  });

  it.each([
    ['GET', '/', 405, 'method_not_allowed'],
    ['POST', '/other', 404, 'not_found'],
  ])('%s %s → %i', async (method, path, status, error) => {
    const response = await mf.dispatchFetch(`http://worker.test${path}`, { method, headers: { 'X-R2-FETCH-TOKEN': TOKEN } });
    expect(response.status).toBe(status);
    expect(await response.json()).toEqual({ success: false, error });
  });
});

describe('scheduled cleanup', () => {
  it('deletes objects older than MAX_AGE_DAYS across list pages and keeps newer ones', async () => {
    const r2 = await bucket();
    // Interleaved names, so old and new objects share list pages (CLEANUP_PAGE_SIZE is 2).
    const oldKeys = ['cron/0', 'cron/2', 'cron/4', 'cron/6', 'cron/8'];
    const newKeys = ['cron/1', 'cron/3', 'cron/5'];
    for (const key of oldKeys) await r2.put(key, 'old');
    await sleep(50);
    for (const key of newKeys) await r2.put(key, 'new');

    const uploadedAt = async (key: string): Promise<number> => (await r2.head(key))!.uploaded.getTime();
    const newestOld = Math.max(...(await Promise.all(oldKeys.map(uploadedAt))));
    const oldestNew = Math.min(...(await Promise.all(newKeys.map(uploadedAt))));
    expect(newestOld).toBeLessThan(oldestNew);
    // The cron "runs" seven days after a moment between the two batches.
    const cutoff = Math.floor((newestOld + oldestNew) / 2);
    const scheduledTime = new Date(cutoff + 7 * 24 * 60 * 60 * 1000);

    const worker = await mf.getWorker();
    const result = await worker.scheduled({ scheduledTime, cron: '17 3 * * *' });

    expect(result.outcome).toBe('ok');
    const remaining = await r2.list({ prefix: 'cron/' });
    expect(remaining.objects.map((object) => object.key)).toEqual(newKeys);
  });
});
