import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { deleteKeys, testRedisUrl, uniquePrefix } from '../../../test/helpers/test-redis';
import { createOffloader } from './offloader';
import type { OffloadSettings } from './settings';
import { buildObjectKey } from './source-url';
import { startFakeWorker, startSourceServer, type FakeWorker, type SourceServer } from './test-servers';

let worker: FakeWorker;
let source: SourceServer;
let redis: Redis;
const prefix = uniquePrefix('offload-worker');

beforeAll(async () => {
  [worker, source] = await Promise.all([startFakeWorker(), startSourceServer()]);
  redis = new Redis(testRedisUrl(), { maxRetriesPerRequest: 1 });
});

afterAll(async () => {
  redis.disconnect();
  await deleteKeys(testRedisUrl(), prefix);
  await Promise.all([worker.close(), source.close()]);
});

beforeEach(() => {
  worker.requests.length = 0;
});

function settings(overrides: Partial<OffloadSettings> = {}): OffloadSettings {
  return {
    enabled: true,
    mode: 'worker',
    endpoint: worker.url,
    token: 'worker-token-123',
    bucket: 'render-signal-media',
    // The Worker fetches the source, not us: the allowlist still applies before asking it.
    allowedHosts: ['dropbox.com', 'fromsmash.com'],
    keyPrefix: prefix,
    ...overrides,
  };
}

const DROPBOX_LINK = { provider: 'dropbox', raw_url: 'https://www.dropbox.com/scl/fi/abc/Photo%20finale.png?rlkey=foo&amp;dl=0' };
const NORMALIZED = 'https://www.dropbox.com/scl/fi/abc/Photo%20finale.png?dl=1&rlkey=foo';

describe('worker mode: the original remote-fetch Worker contract', () => {
  it('posts the normalised source and content-addressed key with the token, and uses a 200 success answer', async () => {
    // The Worker's public URL is served by the loopback source server so the cache's HEAD check can run.
    worker.answer = () => ({
      status: 200,
      body: JSON.stringify({ success: true, r2_url: `${source.origin}/toggle/photo`, original_filename: 'Photo finale.png' }),
    });
    const offloader = createOffloader(settings({ allowPrivateNetwork: true }), { redis });

    const result = await offloader.offload(DROPBOX_LINK, { emailId: 'email-1' });
    expect(result).toEqual({ ok: true, r2_url: `${source.origin}/toggle/photo`, original_filename: 'Photo finale.png', cached: false });

    expect(worker.requests).toHaveLength(1);
    const [request] = worker.requests;
    expect(request?.method).toBe('POST');
    expect(request?.headers['content-type']).toBe('application/json');
    expect(request?.headers['user-agent']).toBe('render-signal/r2-offload');
    expect(request?.headers['x-r2-fetch-token']).toBe('worker-token-123');
    expect(JSON.parse(request?.body ?? '')).toEqual({
      source_url: NORMALIZED,
      object_key: buildObjectKey('dropbox', NORMALIZED),
      bucket: 'render-signal-media',
      provider: 'dropbox',
      email_id: 'email-1',
    });
    expect(buildObjectKey('dropbox', NORMALIZED)).toMatch(/^dropbox\/[0-9a-f]{8}\/[0-9a-f]{8}\/Photo finale\.png$/);

    // Same link in a later email: reused after a HEAD on the public URL, no second Worker call.
    const again = await offloader.offload({ ...DROPBOX_LINK, raw_url: `  ${DROPBOX_LINK.raw_url}  ` }, { emailId: 'email-2' });
    expect(again).toEqual({ ok: true, r2_url: `${source.origin}/toggle/photo`, original_filename: 'Photo finale.png', cached: true });
    expect(worker.requests).toHaveLength(1);
    expect(source.count('/toggle/photo')).toBe(1);

    // The object disappeared from the bucket: the Worker is asked again.
    source.gone.add('/toggle/photo');
    const afterDeletion = await offloader.offload(DROPBOX_LINK, { emailId: 'email-3' });
    expect(afterDeletion).toMatchObject({ ok: true, cached: false });
    expect(worker.requests).toHaveLength(2);
  });

  it('omits original_filename when the Worker sends none', async () => {
    worker.answer = () => ({ status: 200, body: JSON.stringify({ success: true, r2_url: 'https://media.example/x.zip' }) });
    const result = await createOffloader(settings()).offload(
      { provider: 'fromsmash', raw_url: 'https://fromsmash.com/AbCd' },
      { emailId: 'e' },
    );
    expect(result).toEqual({ ok: true, r2_url: 'https://media.example/x.zip', cached: false });
    expect(JSON.parse(worker.requests[0]?.body ?? '')).toMatchObject({
      source_url: 'https://fromsmash.com/AbCd',
      object_key: expect.stringMatching(/^fromsmash\/.+\/file$/),
    });
  });

  it.each([
    ['200 without success', 'worker_bad_answer', { status: 200, body: JSON.stringify({ r2_url: 'https://media.example/x' }) }],
    ['200 success without r2_url', 'worker_bad_answer', { status: 200, body: JSON.stringify({ success: true }) }],
    ['200 that is not JSON', 'worker_bad_answer', { status: 200, body: '<html>' }],
    ['401 (wrong token)', 'worker_error', { status: 401, body: JSON.stringify({ error: 'unauthorized' }) }],
    ['500', 'worker_error', { status: 500, body: '' }],
  ])('%s → %s', async (_label, reason, answer) => {
    worker.answer = () => answer;
    const result = await createOffloader(settings()).offload(DROPBOX_LINK, { emailId: 'e' });
    expect(result).toMatchObject({ ok: false, reason });
    expect(worker.requests).toHaveLength(1);
  });

  it('a Worker slower than the provider timeout → worker_timeout', async () => {
    worker.answer = () => ({ status: 200, body: JSON.stringify({ success: true, r2_url: 'https://media.example/x' }), delayMs: 2_000 });
    const started = Date.now();
    const result = await createOffloader(settings({ timeouts: { defaultMs: 200 } })).offload(DROPBOX_LINK, { emailId: 'e' });
    expect(result).toMatchObject({ ok: false, reason: 'worker_timeout' });
    expect(Date.now() - started).toBeLessThan(1_500);
  });

  it('the deadline cuts a slow Worker call short → deadline', async () => {
    worker.answer = () => ({ status: 200, body: JSON.stringify({ success: true, r2_url: 'https://media.example/x' }), delayMs: 2_000 });
    const result = await createOffloader(settings()).offload(DROPBOX_LINK, { emailId: 'e', deadlineMs: Date.now() + 200 });
    expect(result).toMatchObject({ ok: false, reason: 'deadline' });
  });

  it('a Worker that is down → worker_error', async () => {
    const result = await createOffloader(settings({ endpoint: 'http://127.0.0.1:9/fetch' })).offload(DROPBOX_LINK, { emailId: 'e' });
    expect(result).toMatchObject({ ok: false, reason: 'worker_error' });
  });

  it.each([
    ['a host off the allowlist', { provider: 'gdrive', raw_url: 'https://drive.google.com/file/d/x' }],
    ['an http source (not Dropbox, so not upgraded)', { provider: 'fromsmash', raw_url: 'http://fromsmash.com/x' }],
  ])('does not ask the Worker for %s → source_not_allowed', async (_label, link) => {
    const result = await createOffloader(settings()).offload(link, { emailId: 'e' });
    expect(result).toMatchObject({ ok: false, reason: 'source_not_allowed' });
    expect(worker.requests).toHaveLength(0);
  });

  it.each([
    ['no endpoint', { endpoint: undefined }],
    ['no token', { token: '' }],
    ['disabled', { enabled: false }],
  ])('%s → disabled without a call', async (_label, overrides) => {
    const result = await createOffloader(settings(overrides)).offload(DROPBOX_LINK, { emailId: 'e' });
    expect(result).toMatchObject({ ok: false, reason: 'disabled' });
    expect(worker.requests).toHaveLength(0);
  });
});
