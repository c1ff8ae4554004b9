import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { recordingLogger } from '../helpers/recording-logger';
import { startWebhookSink, type ReceivedWebhook, type WebhookSink } from '../helpers/webhook-sink';
import { operatorRequest, sampleEmail, startWorld, waitUntil, type World } from '../helpers/world';

/**
 * Issue 4 through the real ingress and workers: `email.process` adds one `offload.transfer` child per
 * offloadable link, waits for them, and merges the Worker's answers into `delivery_links`. The remote-fetch
 * Worker is a loopback fake that records the original's contract body and answers as each test scripts it;
 * it also serves HEAD on the public URLs it hands out, for the cache check.
 */

const TOKEN = 'r2-fetch-token-e2e-4f1c';
const BUCKET = 'render-signal-offload-e2e';
const DEADLINE_MS = 1_500;
/** Time the pipeline itself needs around the deadline (child completion → parent resumed → delivery job → POST). */
const MARGIN_MS = 2_000;

type Behaviour = 'store' | 'hang' | 'no_success';

interface WorkerCall {
  headers: IncomingHttpHeaders;
  body: Record<string, unknown>;
}

interface FakeR2Worker {
  /** R2_FETCH_ENDPOINT. */
  endpoint: string;
  /** Base of the r2_url values it answers (a stand-in for the bucket's CDN domain). */
  publicBase: string;
  /** POSTs to the endpoint, in arrival order. */
  calls: WorkerCall[];
  /** Paths that received a HEAD (the offloader's "is the cached object still there?" check). */
  heads: string[];
  /** The token it accepts; anything else gets 401, as the shipped Worker answers. */
  acceptedToken: string;
  /** What the next calls get, decided per call. */
  behaviour: (call: WorkerCall) => Behaviour;
  /** Filenames the fake "reads from the source's Content-Disposition", by source_url; else the key's filename. */
  servedNames: Map<string, string>;
  callsFor(sourceUrl: string): WorkerCall[];
  close(): Promise<void>;
}

function encodeKey(key: string): string {
  return key.split('/').map(encodeURIComponent).join('/');
}

/** A stand-in for apps/r2-fetch-worker: the original's contract on POST /fetch, public objects on HEAD /public/<key>. */
async function startFakeR2Worker(): Promise<FakeR2Worker> {
  const stored = new Set<string>();
  const server: Server = createServer((req, res) => {
    const path = req.url ?? '/';
    if (req.method === 'HEAD' && path.startsWith('/public/')) {
      fake.heads.push(path);
      res.writeHead(stored.has(path) ? 200 : 404, { 'content-length': '0' });
      res.end();
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (req.method !== 'POST' || path !== '/fetch') {
        res.writeHead(404).end();
        return;
      }
      const call: WorkerCall = {
        headers: req.headers,
        body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>,
      };
      fake.calls.push(call);
      const json = (status: number, body: unknown) =>
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      if (req.headers['x-r2-fetch-token'] !== fake.acceptedToken) return json(401, { success: false, error: 'unauthorized' });
      const behaviour = fake.behaviour(call);
      if (behaviour === 'hang') return; // never answers; the connection is closed by the client's deadline or by close()
      const key = String(call.body.object_key);
      const r2Url = `${fake.publicBase}/${encodeKey(key)}`;
      if (behaviour === 'no_success') return json(200, { r2_url: r2Url });
      stored.add(new URL(r2Url).pathname);
      json(200, {
        success: true,
        r2_url: r2Url,
        object_key: key,
        original_filename: fake.servedNames.get(String(call.body.source_url)) ?? key.slice(key.lastIndexOf('/') + 1),
        size_bytes: 1234,
        content_type: 'application/octet-stream',
        already_stored: false,
      });
    });
  });
  // Longer than Node's client agent keeps idle sockets (5 s), so idle connections are always dropped by
  // the client: a server closing first can race a busy client reusing the socket (see the Miniflare test).
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const fake: FakeR2Worker = {
    endpoint: `${origin}/fetch`,
    publicBase: `${origin}/public`,
    calls: [],
    heads: [],
    acceptedToken: TOKEN,
    behaviour: () => 'store',
    servedNames: new Map(),
    callsFor: (sourceUrl) => fake.calls.filter((call) => call.body.source_url === sourceUrl),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return fake;
}

/** The offload env of a world, worker mode. */
function offloadEnv(endpoint: string, sinkUrl: string): Record<string, string> {
  return {
    WEBHOOK_URL: sinkUrl,
    R2_FETCH_ENABLED: 'true',
    OFFLOAD_MODE: 'worker',
    R2_FETCH_ENDPOINT: endpoint,
    R2_FETCH_TOKEN: TOKEN,
    R2_BUCKET_NAME: BUCKET,
    OFFLOAD_DEADLINE: `${DEADLINE_MS}ms`,
    LINK_PROVIDERS: 'dropbox,google_drive',
  };
}

/** The original's key: `<provider>/<sha256[:8]>/<sha256[8:16]>/<filename>`, computed here independently of packages/offload. */
function expectedObjectKey(provider: string, normalisedUrl: string, filename: string): string {
  const sha = createHash('sha256').update(normalisedUrl).digest('hex');
  return `${provider}/${sha.slice(0, 8)}/${sha.slice(8, 16)}/${filename}`;
}

/** A Dropbox file link unique to one test (failed offloads are not cached, successful ones are). */
function uniqueDropboxLink(name: string): { raw: string; normalised: string } {
  const id = randomBytes(6).toString('hex');
  return {
    raw: `https://www.dropbox.com/scl/fi/${id}/${name}?rlkey=k${id}&dl=0`,
    normalised: `https://www.dropbox.com/scl/fi/${id}/${name}?dl=1&rlkey=k${id}`,
  };
}

/** The offload outcome per link, as the email's journey (operator console) shows it. */
async function journeyOffloads(world: World, emailId: string): Promise<Array<{ outcome: string; reason: string | null } | null>> {
  let links: Array<{ offload: { outcome: string; reason: string | null } | null }> = [];
  await waitUntil(
    async () => {
      const res = await operatorRequest(world, 'GET', `/api/emails/${emailId}`);
      links = ((res.json.journey as { links?: typeof links } | undefined)?.links ?? []) as typeof links;
      return links.length > 0 && links.every((l) => l.offload !== null);
    },
    5_000,
    'the journey to show the offloads',
  );
  return links.map((l) => (l.offload ? { outcome: l.offload.outcome, reason: l.offload.reason } : null));
}

async function send(world: World, sink: WebhookSink, body: string): Promise<{ emailId: string; hook: ReceivedWebhook; elapsedMs: number }> {
  const sentAt = Date.now();
  const res = await world.post(sampleEmail({ body }));
  expect(res.json.status).toBe('queued');
  const emailId = String(res.json.email_id);
  let hook: ReceivedWebhook | undefined;
  await waitUntil(
    () => (hook = sink.received.find((candidate) => candidate.json?.microsoft_graph_email_id === emailId)) !== undefined,
    DEADLINE_MS + 10_000,
    `webhook for ${emailId}`,
  );
  return { emailId, hook: hook!, elapsedMs: hook!.receivedAt - sentAt };
}

async function logLine(lines: Array<Record<string, unknown>>, event: string, emailId: string): Promise<Record<string, unknown>> {
  let found: Record<string, unknown> | undefined;
  await waitUntil(
    () => (found = lines.find((line) => line.event === event && line.email_id === emailId)) !== undefined,
    3_000,
    `${event} for ${emailId}`,
  );
  return found!;
}

describe('offload through the pipeline: worker mode against a fake remote-fetch Worker', () => {
  let sink: WebhookSink;
  let fake: FakeR2Worker;
  let world: World;
  let lines: Array<Record<string, unknown>>;

  beforeAll(async () => {
    [sink, fake] = await Promise.all([startWebhookSink(), startFakeR2Worker()]);
    const recording = recordingLogger('e2e-offload');
    lines = recording.lines;
    world = await startWorld({ env: offloadEnv(fake.endpoint, sink.url), logger: recording.logger });
  });
  afterEach(() => {
    fake.behaviour = () => 'store';
    fake.acceptedToken = TOKEN;
  });
  afterAll(async () => {
    await world.close();
    await Promise.all([sink.close(), fake.close()]);
  });

  it('an email with two Dropbox links: the webhook carries direct_url, r2_url and original_filename; the Worker got the original contract', async () => {
    const id = randomBytes(4).toString('hex');
    const planRaw = `https://www.dropbox.com/scl/fi/p${id}/Plan%20A.pdf?rlkey=xyz${id}&dl=0`;
    const planNormalised = `https://www.dropbox.com/scl/fi/p${id}/Plan%20A.pdf?dl=1&rlkey=xyz${id}`;
    const photosRaw = `https://dropbox.com/s/s${id}/photos.zip`;
    const photosNormalised = `https://dropbox.com/s/s${id}/photos.zip?dl=1`;
    fake.servedNames.set(planNormalised, 'Plan A — version finale.pdf');
    const body = `<p>Les plans : <a href="https://www.dropbox.com/scl/fi/p${id}/Plan%20A.pdf?rlkey=xyz${id}&amp;dl=0">Plan A</a></p><p>Photos : ${photosRaw}</p>`;

    const { emailId, hook, elapsedMs } = await send(world, sink, body);

    const planKey = expectedObjectKey('dropbox', planNormalised, 'Plan A.pdf');
    const photosKey = expectedObjectKey('dropbox', photosNormalised, 'photos.zip');
    expect(planKey).toMatch(/^dropbox\/[0-9a-f]{8}\/[0-9a-f]{8}\/Plan A\.pdf$/);
    expect(hook.json!.delivery_links).toEqual([
      {
        provider: 'dropbox',
        raw_url: planRaw,
        direct_url: planRaw,
        r2_url: `${fake.publicBase}/${encodeKey(planKey)}`,
        original_filename: 'Plan A — version finale.pdf',
      },
      {
        provider: 'dropbox',
        raw_url: photosRaw,
        direct_url: photosRaw,
        r2_url: `${fake.publicBase}/${photosKey}`,
        original_filename: 'photos.zip',
      },
    ]);
    // Both transfers ran as parallel child jobs: the webhook did not wait for the deadline.
    expect(elapsedMs).toBeLessThan(DEADLINE_MS);

    const calls = [...fake.callsFor(planNormalised), ...fake.callsFor(photosNormalised)];
    expect(calls.map((call) => call.body)).toEqual([
      { source_url: planNormalised, object_key: planKey, bucket: BUCKET, provider: 'dropbox', email_id: emailId },
      { source_url: photosNormalised, object_key: photosKey, bucket: BUCKET, provider: 'dropbox', email_id: emailId },
    ]);
    for (const call of calls) {
      expect(call.headers['x-r2-fetch-token']).toBe(TOKEN);
      expect(call.headers['content-type']).toMatch(/^application\/json/);
    }
    const completed = lines.filter((line) => line.event === 'offload.completed' && line.email_id === emailId);
    expect(completed).toHaveLength(2);
    expect(completed.every((line) => line.cached === false && line.mode === 'worker')).toBe(true);
  });

  it.each<[string, (fake: FakeR2Worker) => void, string, RegExp]>([
    ['hangs past the deadline', (f) => (f.behaviour = () => 'hang'), 'deadline', /deadline/],
    ['answers 200 without success', (f) => (f.behaviour = () => 'no_success'), 'worker_bad_answer', /success/],
    ['answers 401 (wrong token)', (f) => (f.acceptedToken = 'a-rotated-token'), 'worker_error', /HTTP 401/],
  ])(
    'the Worker %s: the webhook leaves on time with the source URLs only, offload.failed names the reason',
    async (_label, arrange, reason, detail) => {
      arrange(fake);
      const link = uniqueDropboxLink('rendu.mov');

      const { emailId, hook, elapsedMs } = await send(world, sink, `<p>Le rendu : ${link.raw}</p>`);

      expect(hook.json!.delivery_links).toEqual([{ provider: 'dropbox', raw_url: link.raw, direct_url: link.raw }]);
      expect(elapsedMs).toBeLessThan(DEADLINE_MS + MARGIN_MS);
      // The fallback came from the Worker's answer, not from a transfer that never started.
      expect(fake.callsFor(link.normalised)).toHaveLength(1);
      expect(fake.callsFor(link.normalised)[0]!.headers['x-r2-fetch-token']).toBe(TOKEN);
      if (reason === 'deadline') expect(elapsedMs).toBeGreaterThanOrEqual(DEADLINE_MS);

      const failed = await logLine(lines, 'offload.failed', emailId);
      expect(failed).toMatchObject({ level: 'warn', reason, provider: 'dropbox', mode: 'worker' });
      expect(String(failed.detail)).toMatch(detail);
      // Dropbox's rlkey is an access key: logs carry the masked URL only.
      expect(failed.source_url).toBe('https://www.dropbox.com/***');
      expect(JSON.stringify(lines)).not.toContain(link.raw.split('rlkey=')[1]!);
    },
  );

  it('a second email with the same link reuses the cached r2_url after a HEAD on it: the Worker is called once', async () => {
    const link = uniqueDropboxLink('catalogue.pdf');
    const key = expectedObjectKey('dropbox', link.normalised, 'catalogue.pdf');
    const publicPath = `/public/${key}`;

    const first = await send(world, sink, `<p>Catalogue : ${link.raw}</p>`);
    expect(first.hook.json!.delivery_links).toEqual([
      {
        provider: 'dropbox',
        raw_url: link.raw,
        direct_url: link.raw,
        r2_url: `${fake.publicBase}/${key}`,
        original_filename: 'catalogue.pdf',
      },
    ]);
    expect(fake.heads.filter((path) => path === publicPath)).toHaveLength(0);

    const second = await send(world, sink, `<p>Relance, même catalogue : ${link.raw}</p>`);
    expect(second.emailId).not.toBe(first.emailId);
    expect(second.hook.json!.delivery_links).toEqual(first.hook.json!.delivery_links);
    expect(fake.callsFor(link.normalised)).toHaveLength(1);
    expect(fake.heads.filter((path) => path === publicPath)).toHaveLength(1);
    expect(await logLine(lines, 'offload.completed', second.emailId)).toMatchObject({ cached: true });
    expect(await journeyOffloads(world, first.emailId)).toEqual([{ outcome: 'transferred', reason: null }]);
    expect(await journeyOffloads(world, second.emailId)).toEqual([{ outcome: 'cached', reason: null }]);
  });

  it('a Google Drive link (offloadAllowed=false) is not offloaded; the Dropbox link of the same email is', async () => {
    const link = uniqueDropboxLink('brief.pdf');
    const drive = `https://drive.google.com/file/d/1${randomBytes(8).toString('hex')}/view?usp=sharing`;
    const callsBefore = fake.calls.length;

    const { emailId, hook } = await send(world, sink, `<p>Brief : ${link.raw}</p><p>Maquettes : ${drive}</p>`);

    const key = expectedObjectKey('dropbox', link.normalised, 'brief.pdf');
    expect(hook.json!.delivery_links).toEqual([
      { provider: 'dropbox', raw_url: link.raw, direct_url: link.raw, r2_url: `${fake.publicBase}/${key}`, original_filename: 'brief.pdf' },
      { provider: 'google_drive', raw_url: drive, direct_url: drive },
    ]);
    const calls = fake.calls.slice(callsBefore);
    expect(calls.map((call) => call.body.provider)).toEqual(['dropbox']);
    expect(
      lines.filter((line) => line.email_id === emailId && String(line.event).startsWith('offload.')).map((line) => line.provider),
    ).toEqual(['dropbox']);
  });
});

describe('offload through the pipeline: the Worker is down', () => {
  let sink: WebhookSink;
  let world: World;
  let lines: Array<Record<string, unknown>>;

  beforeAll(async () => {
    sink = await startWebhookSink();
    // A port that was just free: nothing listens there, so connecting is refused.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const deadPort = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const recording = recordingLogger('e2e-offload');
    lines = recording.lines;
    world = await startWorld({ env: offloadEnv(`http://127.0.0.1:${deadPort}/fetch`, sink.url), logger: recording.logger });
  });
  afterAll(async () => {
    await world.close();
    await sink.close();
  });

  it('connection refused: the webhook leaves on time with the source URLs only, offload.failed says worker_error', async () => {
    const link = uniqueDropboxLink('montage.zip');

    const { emailId, hook, elapsedMs } = await send(world, sink, `<p>Le montage : ${link.raw}</p>`);

    expect(hook.json!.delivery_links).toEqual([{ provider: 'dropbox', raw_url: link.raw, direct_url: link.raw }]);
    expect(elapsedMs).toBeLessThan(DEADLINE_MS + MARGIN_MS);
    const failed = await logLine(lines, 'offload.failed', emailId);
    expect(failed).toMatchObject({ reason: 'worker_error', provider: 'dropbox', mode: 'worker' });
    expect(String(failed.detail)).toMatch(/ECONNREFUSED/);
    expect(await journeyOffloads(world, emailId)).toEqual([{ outcome: 'failed', reason: 'worker_error' }]);
  });
});
