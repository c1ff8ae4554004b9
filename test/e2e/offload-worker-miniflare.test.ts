import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { Miniflare } from 'miniflare';
import { buildObjectKey, createOffloader, normalizeSourceUrl, type OffloadSettings } from '@render-signal/offload';
import { deterministicSha256, startSourceServer, type SourceServer } from '../../packages/offload/src/test-servers';
import { bundleR2FetchWorker } from '../../apps/r2-fetch-worker/src/bundle-worker.test-support';

/**
 * Our offloader (worker mode) against the SHIPPED remote-fetch Worker (apps/r2-fetch-worker/src/worker.ts,
 * bundled with esbuild) running in Miniflare 3 (workerd) with its local R2 simulation. Miniflare listens
 * on a loopback port, so the offloader reaches it over real HTTP exactly as it reaches Cloudflare; the
 * files are served by a loopback source the Worker is allowed to fetch (ALLOWED_HOSTS=127.0.0.1,
 * ALLOW_HTTP_SOURCES=true, the Worker's test-only switches).
 */

const MiB = 1024 * 1024;
const TOKEN = 'miniflare-token-9b2e';
const BUCKET_NAME = 'render-signal-offload';
const PUBLIC_BASE_URL = 'https://files.render-signal.test';
// The provider whose normalisation keeps an http:// loopback URL as it is (Dropbox's forces https).
const PROVIDER = 'fromsmash';

let mf: Miniflare;
let workerUrl: string;
let source: SourceServer;
const workerLogLines: string[] = [];

function collectLines(stream: Readable): void {
  createInterface({ input: stream }).on('line', (line) => workerLogLines.push(line));
}

/** The Worker's JSON log lines (workerd may also print plain-text lines, skipped). */
function workerLogEvents(): Array<Record<string, unknown>> {
  return workerLogLines.flatMap((line) => {
    try {
      return [JSON.parse(line) as Record<string, unknown>];
    } catch {
      return [];
    }
  });
}

beforeAll(async () => {
  source = await startSourceServer();
  const script = await bundleR2FetchWorker();
  mf = new Miniflare({
    modules: true,
    script,
    compatibilityDate: '2025-07-18',
    r2Buckets: ['BUCKET'],
    // A real listening socket on loopback (port 0: any free port), not only dispatchFetch.
    host: '127.0.0.1',
    port: 0,
    handleRuntimeStdio(stdout, stderr) {
      collectLines(stdout);
      collectLines(stderr);
    },
    bindings: {
      R2_FETCH_TOKEN: TOKEN,
      PUBLIC_BASE_URL,
      BUCKET_NAME,
      ALLOWED_HOSTS: '127.0.0.1',
      ALLOW_HTTP_SOURCES: 'true',
      MULTIPART_PART_BYTES: String(5 * MiB),
    },
  });
  workerUrl = (await mf.ready).href;
}, 60_000);

afterAll(async () => {
  await mf?.dispose();
  await source?.close();
});

function settings(overrides: Partial<OffloadSettings> = {}): OffloadSettings {
  return {
    enabled: true,
    mode: 'worker',
    endpoint: workerUrl,
    token: TOKEN,
    bucket: BUCKET_NAME,
    allowedHosts: ['127.0.0.1'],
    allowPrivateNetwork: true,
    timeouts: { defaultMs: 60_000 },
    ...overrides,
  };
}

function keyOf(url: string): string {
  return buildObjectKey(PROVIDER, normalizeSourceUrl(PROVIDER, url));
}

/**
 * The test's own look into the bucket, through Miniflare's proxy (its bundled undici 5): under a loaded CI it can
 * reuse a keep-alive socket workerd just closed ("other side closed"), so a transport failure is tried once more.
 */
async function storedSha256(key: string, retried = false): Promise<{ sha256: string; bytes: number } | undefined> {
  const object = await (await mf.getR2Bucket('BUCKET')).get(key).catch((error: unknown) => {
    if (retried || !(error instanceof TypeError) || error.message !== 'fetch failed') throw error;
    return 'retry' as const;
  });
  if (object === 'retry') return storedSha256(key, true);
  if (!object) return undefined;
  const data = new Uint8Array(await object.arrayBuffer());
  return { sha256: createHash('sha256').update(data).digest('hex'), bytes: data.byteLength };
}

describe('worker mode against the shipped Worker in Miniflare (local R2)', () => {
  it.each([
    [
      'with Content-Length (FixedLengthStream)',
      'livraison.zip',
      24 * MiB,
      '&disposition=' + encodeURIComponent('attachment; filename="Livraison finale.zip"'),
      'Livraison finale.zip',
    ],
    ['chunked, no Content-Length (R2 multipart)', 'rushes.mov', 12 * MiB + 4321, '&length=0', 'rushes.mov'],
  ])(
    'a multi-MB source %s lands byte-identical in the bucket; the result has r2_url and original_filename',
    async (_label, name, size, extra, filename) => {
      const url = `${source.origin}/file/${name}?size=${size}${extra}`;
      const key = keyOf(url);
      expect(key).toMatch(new RegExp(`^${PROVIDER}/[0-9a-f]{8}/[0-9a-f]{8}/${name.replace('.', '\\.')}$`));

      const result = await createOffloader(settings()).offload({ provider: PROVIDER, raw_url: url }, { emailId: `email-${name}` });

      expect(result).toEqual({ ok: true, cached: false, r2_url: `${PUBLIC_BASE_URL}/${key}`, original_filename: filename });
      expect(await storedSha256(key)).toEqual({ sha256: deterministicSha256(size), bytes: size });
      expect(source.count(`/file/${name}`)).toBe(1);
      const stored = workerLogEvents().find((line) => line.event === 'r2_fetch.stored' && line.object_key === key);
      expect(stored).toMatchObject({ email_id: `email-${name}`, size_bytes: size });
    },
    60_000,
  );

  it('the same link again: the Worker finds the content-addressed object and does not fetch the source twice', async () => {
    const url = `${source.origin}/file/again.bin?size=${3 * MiB}`;
    const offloader = createOffloader(settings());
    const first = await offloader.offload({ provider: PROVIDER, raw_url: url }, { emailId: 'email-a' });
    const second = await offloader.offload({ provider: PROVIDER, raw_url: url }, { emailId: 'email-b' });
    expect(first).toMatchObject({ ok: true, r2_url: `${PUBLIC_BASE_URL}/${keyOf(url)}` });
    expect(second).toEqual(first);
    expect(source.count('/file/again.bin')).toBe(1);
  });

  it('a wrong token: the Worker answers 401, our side falls back with worker_error, nothing is fetched or stored', async () => {
    const url = `${source.origin}/file/refused.bin?size=${2 * MiB}`;
    // The Worker's own answer, over the same socket the offloader uses.
    const direct = await fetch(workerUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-r2-fetch-token': 'not-the-token' },
      body: JSON.stringify({ source_url: url, object_key: keyOf(url), bucket: BUCKET_NAME, provider: PROVIDER }),
    });
    expect(direct.status).toBe(401);
    expect(await direct.json()).toEqual({ success: false, error: 'unauthorized' });

    const result = await createOffloader(settings({ token: 'not-the-token' })).offload(
      { provider: PROVIDER, raw_url: url },
      { emailId: 'email-401' },
    );

    expect(result).toEqual({ ok: false, reason: 'worker_error', detail: 'worker answered HTTP 401' });
    expect(source.count('/file/refused.bin')).toBe(0);
    expect(await storedSha256(keyOf(url))).toBeUndefined();
  });
});
