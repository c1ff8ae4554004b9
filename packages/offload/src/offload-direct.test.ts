import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import got from 'got';
import { Redis } from 'ioredis';
import { Writable, type Readable } from 'node:stream';
import { createLogger } from '@render-signal/observability';
import { deleteKeys, testRedisUrl, uniquePrefix } from '../../../test/helpers/test-redis';
import { createOffloader } from './offloader';
import type { OffloadSettings } from './settings';
import { buildObjectKey, normalizeSourceUrl } from './source-url';
import {
  deterministicSha256,
  measureRssGrowth,
  S3RVER_CREDENTIALS,
  sha256OfStream,
  startS3rver,
  startSourceServer,
  type S3Emulator,
  type SourceServer,
} from './test-servers';

const MiB = 1024 * 1024;
const BUCKET = 'offload-direct';
// Loopback sources need http + private addresses; the allowlist is narrowed to the test host.
const PROVIDER = 'fromsmash';

let s3: S3Emulator;
let source: SourceServer;
let redis: Redis;
let store: S3Client;
const prefix = uniquePrefix('offload-direct');

beforeAll(async () => {
  [s3, source] = await Promise.all([startS3rver(BUCKET), startSourceServer()]);
  redis = new Redis(testRedisUrl(), { maxRetriesPerRequest: 1 });
  store = new S3Client({
    region: 'auto',
    endpoint: s3.endpoint,
    forcePathStyle: true,
    credentials: S3RVER_CREDENTIALS,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
});

afterAll(async () => {
  store.destroy();
  redis.disconnect();
  await deleteKeys(testRedisUrl(), prefix);
  await Promise.all([s3.close(), source.close()]);
});

function settings(overrides: Partial<OffloadSettings> = {}): OffloadSettings {
  return {
    enabled: true,
    mode: 'direct',
    bucket: BUCKET,
    s3: { endpoint: s3.endpoint, ...S3RVER_CREDENTIALS },
    allowedHosts: ['127.0.0.1'],
    allowPrivateNetwork: true,
    keyPrefix: prefix,
    ...overrides,
  };
}

function fileUrl(name: string, size: number, extra = ''): string {
  return `${source.origin}/file/${name}?size=${size}${extra}`;
}

async function objectHead(url: string): Promise<boolean> {
  const key = buildObjectKey(PROVIDER, normalizeSourceUrl(PROVIDER, url));
  try {
    await store.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }));
    return true;
  } catch {
    return false;
  }
}

/** A logger writing JSON lines to memory, masking included (the real format); `logged()` flushes first. */
function capturingLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      callback();
    },
  });
  const logger = createLogger({ level: 'debug', service: 'test', stream });
  return {
    logger,
    logged: () => {
      logger.flush();
      return lines;
    },
  };
}

describe('direct mode: streaming into an S3-compatible store (s3rver)', () => {
  const size = 50 * MiB;

  it('streams a 50 MB source into the bucket byte-identical, with bounded RSS, and reuses it from the cache', async () => {
    const url = fileUrl('big.bin', size, `&disposition=${encodeURIComponent('attachment; filename="Livraison finale.zip"')}`);
    const { logger, logged } = capturingLogger();
    const offloader = createOffloader(settings(), { redis, logger });

    // Warm-up: the first transfer in a process loads and compiles the SDK, got and crypto paths and grows
    // the allocator's arenas (≈ 50 MB once, measured); that is not memory the transfer holds, so the
    // measured transfer is the second one. It still includes everything a transfer allocates.
    const warmUp = await offloader.offload({ provider: PROVIDER, raw_url: fileUrl('warm-up.bin', 17 * MiB) }, { emailId: 'warm-up' });
    expect(warmUp).toMatchObject({ ok: true, bytes: 17 * MiB });

    const { result, growthBytes } = await measureRssGrowth(() =>
      offloader.offload({ provider: PROVIDER, raw_url: url }, { emailId: 'email-big' }),
    );
    expect(result).toMatchObject({ ok: true, cached: false, bytes: size, original_filename: 'Livraison finale.zip' });
    if (!result.ok) throw new Error('unreachable');
    // Presigned GET (no public base URL): downloading it proves both the URL and the stored bytes.
    expect(result.r2_url).toContain('X-Amz-Signature=');
    const downloaded = await sha256OfStream(got.stream(result.r2_url));
    expect(downloaded).toEqual({ sha256: deterministicSha256(size), bytes: size });

    // Memory: the Upload holds ≤ (queueSize 3 + 1) × 8 MiB = 32 MiB of parts, plus the Buffer.concat
    // copy of the part being cut and socket buffers. Measured on this machine (plain node, after warm-up):
    // +32 MiB for 50 MB and +40 MiB for 200 MB with s3rver in-process; +35 / +48 MiB with s3rver in a
    // separate process, so s3rver (which streams parts to disk) adds little and growth does not scale
    // with the file. Under jest: +35 to +51 MiB depending on machine load (GC runs later when busy).
    // 64 MiB is the budget; +16 MiB margin for the in-process s3rver, jest and GC timing.
    console.info(`offload RSS growth for a 50 MB transfer: ${(growthBytes / MiB).toFixed(1)} MiB`);
    expect(growthBytes).toBeLessThan(64 * MiB + 16 * MiB);
    expect(source.count('/file/big.bin')).toBe(1);

    const completed = logged().find((line) => line.event === 'offload.completed' && line.email_id === 'email-big');
    expect(completed).toMatchObject({ email_id: 'email-big', bytes: size, cached: false, mode: 'direct', provider: PROVIDER });
    expect(completed?.duration_ms).toEqual(expect.any(Number));
    expect(completed?.source_url).toBe(`${source.origin}/***`);

    const again = await offloader.offload({ provider: PROVIDER, raw_url: url }, { emailId: 'email-big-2' });
    expect(again).toMatchObject({ ok: true, cached: true, bytes: size, original_filename: 'Livraison finale.zip' });
    expect(source.count('/file/big.bin')).toBe(1);
  }, 120_000);
});

describe('direct mode: cache and public URLs', () => {
  it('re-transfers when the cached object was deleted from the bucket', async () => {
    const url = fileUrl('deleted.bin', 3 * MiB);
    const offloader = createOffloader(settings(), { redis });
    const first = await offloader.offload({ provider: PROVIDER, raw_url: url }, { emailId: 'e1' });
    expect(first).toMatchObject({ ok: true, cached: false });
    expect(await offloader.offload({ provider: PROVIDER, raw_url: url }, { emailId: 'e2' })).toMatchObject({ ok: true, cached: true });
    expect(source.count('/file/deleted.bin')).toBe(1);

    const key = buildObjectKey(PROVIDER, normalizeSourceUrl(PROVIDER, url));
    await store.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: key }));
    const third = await offloader.offload({ provider: PROVIDER, raw_url: url }, { emailId: 'e3' });
    expect(third).toMatchObject({ ok: true, cached: false, bytes: 3 * MiB });
    expect(source.count('/file/deleted.bin')).toBe(2);
    expect(await objectHead(url)).toBe(true);
  });

  it('builds the public URL from publicBaseUrl, stores content type and disposition', async () => {
    const url = fileUrl('rapport final.pdf', 1000, '&type=application/pdf');
    const publicBaseUrl = `${s3.endpoint}/${BUCKET}/`;
    const result = await createOffloader(settings({ publicBaseUrl })).offload({ provider: PROVIDER, raw_url: url }, { emailId: 'e' });
    const key = buildObjectKey(PROVIDER, normalizeSourceUrl(PROVIDER, url));
    expect(key).toMatch(/^fromsmash\/[0-9a-f]{8}\/[0-9a-f]{8}\/rapport final\.pdf$/);
    expect(result).toEqual({
      ok: true,
      cached: false,
      bytes: 1000,
      original_filename: 'rapport final.pdf',
      r2_url: `${s3.endpoint}/${BUCKET}/${key.replace(' ', '%20')}`,
    });
    const head = await store.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }));
    expect(head.ContentType).toBe('application/pdf');
    expect(head.ContentDisposition).toBe(`attachment; filename="rapport final.pdf"; filename*=UTF-8''rapport%20final.pdf`);
    expect(head.ContentLength).toBe(1000);
  });

  it('transfers a source without Content-Length (chunked) completely', async () => {
    const size = 9 * MiB + 123; // crosses a part boundary with an odd tail
    const url = fileUrl('chunked.bin', size, '&length=0');
    const result = await createOffloader(settings()).offload({ provider: PROVIDER, raw_url: url }, { emailId: 'e' });
    expect(result).toMatchObject({ ok: true, bytes: size });
    const key = buildObjectKey(PROVIDER, normalizeSourceUrl(PROVIDER, url));
    const object = await store.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    expect(await sha256OfStream(object.Body as Readable)).toEqual({ sha256: deterministicSha256(size), bytes: size });
  });
});

describe('direct mode: failures are values, the link keeps its source URLs', () => {
  it('source 404 → source_status, logged with a masked URL', async () => {
    const { logger, logged } = capturingLogger();
    const result = await createOffloader(settings(), { logger }).offload(
      { provider: PROVIDER, raw_url: `${source.origin}/status/404?token=secret` },
      { emailId: 'e404' },
    );
    expect(result).toMatchObject({ ok: false, reason: 'source_status', detail: 'source answered HTTP 404' });
    const failed = logged().find((line) => line.event === 'offload.failed');
    expect(failed).toMatchObject({ email_id: 'e404', reason: 'source_status', source_url: `${source.origin}/***` });
    expect(JSON.stringify(logged())).not.toContain('secret');
  });

  it.each([
    ['no response headers', '/hang'],
    ['body goes silent', '/stall?size=1000'],
  ])('source hangs (%s) past the provider timeout → source_timeout', async (_label, path) => {
    const started = Date.now();
    const result = await createOffloader(settings({ timeouts: { defaultMs: 300 } })).offload(
      { provider: PROVIDER, raw_url: `${source.origin}${path}` },
      { emailId: 'e' },
    );
    expect(result).toMatchObject({ ok: false, reason: 'source_timeout' });
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('a store slower than the source timeout is not a source timeout (backpressure is not a stall)', async () => {
    // Every part upload takes 1.2 s, over twice the source timeout: the source socket sits paused that long.
    const client = new S3Client({
      region: 'auto',
      endpoint: s3.endpoint,
      forcePathStyle: true,
      credentials: S3RVER_CREDENTIALS,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    client.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'UploadPartCommand') await new Promise((resolve) => setTimeout(resolve, 1_200));
        return next(args);
      },
      { step: 'initialize' },
    );
    const size = 25 * MiB;
    const result = await createOffloader(settings({ timeouts: { defaultMs: 500 } }), { s3Client: client }).offload(
      { provider: PROVIDER, raw_url: fileUrl('slow-store.bin', size, '&length=0') },
      { emailId: 'e' },
    );
    client.destroy();
    expect(result).toMatchObject({ ok: true, bytes: size });
  });

  it('deadline reached mid-transfer → deadline, well before the provider timeout', async () => {
    const started = Date.now();
    const result = await createOffloader(settings({ timeouts: { defaultMs: 20_000 } })).offload(
      { provider: PROVIDER, raw_url: `${source.origin}/stall?size=1000` },
      { emailId: 'e', deadlineMs: Date.now() + 300 },
    );
    expect(result).toMatchObject({ ok: false, reason: 'deadline' });
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it('a deadline already passed → deadline without any request', async () => {
    const url = fileUrl('late.bin', 10);
    const result = await createOffloader(settings()).offload(
      { provider: PROVIDER, raw_url: url },
      { emailId: 'e', deadlineMs: Date.now() - 1 },
    );
    expect(result).toMatchObject({ ok: false, reason: 'deadline' });
    expect(source.count('/file/late.bin')).toBe(0);
  });

  it('store refuses wrong credentials (s3rver checks SigV4 keys) → store_error, no object', async () => {
    const url = fileUrl('badcreds.bin', 2 * MiB);
    const result = await createOffloader(
      settings({ s3: { endpoint: s3.endpoint, accessKeyId: 'WRONG', secretAccessKey: 'WRONG' } }),
    ).offload({ provider: PROVIDER, raw_url: url }, { emailId: 'e' });
    expect(result).toMatchObject({ ok: false, reason: 'store_error' });
    expect(result.ok ? '' : result.detail).toMatch(/InvalidAccessKeyId|access key/i);
    expect(await objectHead(url)).toBe(false);
  });

  it('bucket that does not exist → store_error', async () => {
    const result = await createOffloader(settings({ bucket: 'no-such-bucket' })).offload(
      { provider: PROVIDER, raw_url: fileUrl('nobucket.bin', 1000) },
      { emailId: 'e' },
    );
    expect(result).toMatchObject({ ok: false, reason: 'store_error' });
  });

  it('store unreachable (stopped endpoint) → store_error', async () => {
    const result = await createOffloader(settings({ s3: { endpoint: 'http://127.0.0.1:9', ...S3RVER_CREDENTIALS } })).offload(
      { provider: PROVIDER, raw_url: fileUrl('nostore.bin', 1000) },
      { emailId: 'e' },
    );
    expect(result).toMatchObject({ ok: false, reason: 'store_error' });
  });

  it.each([
    ['announced by Content-Length (nothing uploaded)', '', 2 * MiB],
    ['counted while streaming (no Content-Length)', '&length=0', 20 * MiB],
  ])('over the size cap, %s → too_large', async (_label, extra, size) => {
    const url = fileUrl(`big-${extra ? 'chunked' : 'declared'}.bin`, size, extra);
    const result = await createOffloader(settings({ maxBytes: MiB + 5 })).offload({ provider: PROVIDER, raw_url: url }, { emailId: 'e' });
    expect(result).toMatchObject({ ok: false, reason: 'too_large' });
    expect(await objectHead(url)).toBe(false);
  });

  it('over the cap after parts were uploaded → too_large, the multipart upload is aborted, never completed', async () => {
    // Records the commands the offloader's S3 client sends. s3rver answers AbortMultipartUpload with
    // 405 (not implemented), so its orphaned part files stay on its disk; real stores drop them.
    const client = new S3Client({
      region: 'auto',
      endpoint: s3.endpoint,
      forcePathStyle: true,
      credentials: S3RVER_CREDENTIALS,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    const commands: string[] = [];
    client.middlewareStack.add(
      (next, context) => async (args) => {
        commands.push(String(context.commandName));
        return next(args);
      },
      { step: 'initialize' },
    );
    const url = fileUrl('multi-over.bin', 40 * MiB, '&length=0');
    const result = await createOffloader(settings({ maxBytes: 20 * MiB }), { s3Client: client }).offload(
      { provider: PROVIDER, raw_url: url },
      { emailId: 'e' },
    );
    client.destroy();
    expect(result).toMatchObject({ ok: false, reason: 'too_large' });
    expect(commands).toContain('CreateMultipartUploadCommand');
    expect(commands).toContain('UploadPartCommand');
    expect(commands).toContain('AbortMultipartUploadCommand');
    expect(commands).not.toContain('CompleteMultipartUploadCommand');
    expect(await objectHead(url)).toBe(false);
  });

  it('disabled → disabled, no request', async () => {
    const url = fileUrl('off.bin', 10);
    expect(
      await createOffloader(settings({ enabled: false })).offload({ provider: PROVIDER, raw_url: url }, { emailId: 'e' }),
    ).toMatchObject({
      ok: false,
      reason: 'disabled',
    });
    expect(
      await createOffloader(settings({ s3: undefined })).offload({ provider: PROVIDER, raw_url: url }, { emailId: 'e' }),
    ).toMatchObject({
      ok: false,
      reason: 'disabled',
    });
    expect(source.count('/file/off.bin')).toBe(0);
  });
});

describe('source policy (SSRF)', () => {
  it('a redirect to a host off the allowlist is refused before it is followed', async () => {
    const port = new URL(source.origin).port;
    const target = `http://localhost:${port}/file/redirected.bin?size=10`;
    const result = await createOffloader(settings()).offload(
      { provider: PROVIDER, raw_url: `${source.origin}/redirect?to=${encodeURIComponent(target)}` },
      { emailId: 'e' },
    );
    expect(result).toMatchObject({ ok: false, reason: 'source_not_allowed' });
    expect(source.count('/file/redirected.bin')).toBe(0);
  });

  it('a redirect within the allowlist is followed', async () => {
    const target = `${source.origin}/file/redirected-ok.bin?size=10`;
    const result = await createOffloader(settings()).offload(
      { provider: PROVIDER, raw_url: `${source.origin}/redirect?to=${encodeURIComponent(target)}` },
      { emailId: 'e' },
    );
    expect(result).toMatchObject({ ok: true, bytes: 10 });
  });

  const port = () => new URL(source.origin).port;
  it.each([
    ['http on an allowlisted host', () => 'http://www.dropbox.com/s/abc/f.zip', undefined],
    ['a host off the allowlist', () => 'https://example.com/f.zip', undefined],
    ['a look-alike host', () => 'https://dropbox.com.evil.example/f.zip', undefined],
    ['an allowlisted name resolving to 127.0.0.1', () => `https://localhost:${port()}/file/ssrf.bin?size=10`, ['localhost']],
    ['a literal 10.x address', () => 'https://10.1.2.3/f.zip', ['10.1.2.3']],
    ['the cloud metadata address', () => 'https://169.254.169.254/latest/meta-data/', ['169.254.169.254']],
    ['a literal loopback address', () => `https://127.0.0.1:${port()}/file/ssrf.bin?size=10`, ['127.0.0.1']],
  ])('refuses %s when private networking is off', async (_label, url, allowedHosts) => {
    const result = await createOffloader(settings({ allowPrivateNetwork: false, allowedHosts })).offload(
      { provider: 'wetransfer', raw_url: url() },
      { emailId: 'e' },
    );
    expect(result).toMatchObject({ ok: false, reason: 'source_not_allowed' });
    expect(source.count('/file/ssrf.bin')).toBe(0);
  });
});
