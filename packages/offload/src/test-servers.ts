/**
 * Loopback servers for the offload tests (never imported by the package itself): a source server
 * serving deterministic files, an in-process s3rver, and a fake remote-fetch Worker.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

const CHUNK = 64 * 1024;
const BASE = (() => {
  // 64 KiB of seeded pseudo-random bytes (a SHA-256 chain), stamped per chunk below.
  const block = Buffer.alloc(CHUNK);
  let digest = createHash('sha256').update('render-signal offload fixture').digest();
  for (let offset = 0; offset < CHUNK; offset += digest.length) {
    digest.copy(block, offset);
    digest = createHash('sha256').update(digest).digest();
  }
  return block;
})();

/**
 * `size` deterministic bytes as 64 KiB chunks. Each chunk carries its index every 4 KiB, so the content
 * never repeats with a period that could hide reordered or duplicated multipart parts.
 */
export function* deterministicChunks(size: number): Generator<Buffer> {
  for (let index = 0, sent = 0; sent < size; index += 1) {
    const chunk = Buffer.from(BASE);
    for (let at = 0; at < CHUNK; at += 4096) chunk.writeUInt32BE(index, at);
    const length = Math.min(CHUNK, size - sent);
    sent += length;
    yield length === CHUNK ? chunk : chunk.subarray(0, length);
  }
}

export function deterministicSha256(size: number): string {
  const hash = createHash('sha256');
  for (const chunk of deterministicChunks(size)) hash.update(chunk);
  return hash.digest('hex');
}

/** SHA-256 of a stream without keeping it. */
export async function sha256OfStream(stream: NodeJS.ReadableStream): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  await pipeline(
    stream,
    new Writable({
      write(chunk: Buffer, _encoding, callback) {
        hash.update(chunk);
        bytes += chunk.length;
        callback();
      },
    }),
  );
  return { sha256: hash.digest('hex'), bytes };
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

async function close(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

export interface SourceServer {
  origin: string;
  /** Requests received per path (query excluded), all methods. */
  count(pathname: string): number;
  /** Paths under /toggle/ answer 404 once listed here (a "deleted" public object). */
  gone: Set<string>;
  close(): Promise<void>;
}

/**
 * Routes:
 * - `/file/<name>?size=N[&length=0][&disposition=…]` N deterministic bytes (chunked when length=0);
 * - `/status/<code>`; `/hang` (never answers); `/stall?size=N` (headers + N bytes, then silence);
 * - `/redirect?to=<url>` (302); `/toggle/<name>` 200 unless in `gone`.
 */
export async function startSourceServer(): Promise<SourceServer> {
  const counts = new Map<string, number>();
  const gone = new Set<string>();
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://source.test');
    counts.set(url.pathname, (counts.get(url.pathname) ?? 0) + 1);
    const size = Number(url.searchParams.get('size') ?? '0');
    if (url.pathname.startsWith('/file/')) {
      const headers: Record<string, string> = { 'content-type': url.searchParams.get('type') ?? 'application/zip' };
      if (url.searchParams.get('length') !== '0') headers['content-length'] = String(size);
      const disposition = url.searchParams.get('disposition');
      if (disposition) headers['content-disposition'] = disposition;
      res.writeHead(200, headers);
      if (req.method === 'HEAD') return res.end();
      Readable.from(deterministicChunks(size)).pipe(res);
      return;
    }
    if (url.pathname.startsWith('/status/')) {
      res.writeHead(Number(url.pathname.slice('/status/'.length)), { 'content-type': 'text/plain' });
      return res.end('nope');
    }
    if (url.pathname === '/hang') return; // never answers; closed by closeAllConnections
    if (url.pathname === '/stall') {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(size * 2) });
      res.write(Buffer.alloc(size, 1));
      return; // then silence
    }
    if (url.pathname === '/redirect') {
      res.writeHead(302, { location: url.searchParams.get('to') ?? '/' });
      return res.end();
    }
    if (url.pathname.startsWith('/toggle/')) {
      res.writeHead(gone.has(url.pathname) ? 404 : 200, { 'content-length': '0' });
      return res.end();
    }
    res.writeHead(404);
    res.end();
  };
  const server = createServer(handler);
  const port = await listen(server);
  return {
    origin: `http://127.0.0.1:${port}`,
    count: (pathname) => counts.get(pathname) ?? 0,
    gone,
    close: () => close(server),
  };
}

interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
}
type S3rverConstructor = new (options: Record<string, unknown>) => S3rverInstance;

export interface S3Emulator {
  endpoint: string;
  bucket: string;
  close(): Promise<void>;
}

/**
 * s3rver (in-process, filesystem-backed) on a free loopback port with one bucket. It checks SigV4
 * signatures against its fixed S3RVER/S3RVER key pair, so wrong credentials are refused as on a real store.
 */
export async function startS3rver(bucket: string): Promise<S3Emulator> {
  // s3rver ships CommonJS without types: loaded through require and typed locally.
  const S3rver = createRequire(import.meta.url)('s3rver') as S3rverConstructor;
  const directory = await mkdtemp(join(tmpdir(), 'rs-s3rver-'));
  const server = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory, configureBuckets: [{ name: bucket, configs: [] }] });
  const { port } = await server.run();
  return {
    endpoint: `http://127.0.0.1:${port}`,
    bucket,
    close: async () => {
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}

export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

export interface RecordedRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

export interface FakeWorker {
  url: string;
  requests: RecordedRequest[];
  /** What the next requests get; default 200 `{ success: true, r2_url: … }` set by the test. */
  answer: (request: RecordedRequest) => { status: number; body: string; delayMs?: number };
  close(): Promise<void>;
}

/** A stand-in for the Cloudflare remote-fetch Worker that records what it receives. */
export async function startFakeWorker(): Promise<FakeWorker> {
  const worker: FakeWorker = {
    url: '',
    requests: [],
    answer: () => ({ status: 500, body: 'not configured' }),
    close: async () => {},
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const recorded = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      worker.requests.push(recorded);
      const { status, body, delayMs } = worker.answer(recorded);
      const send = () => {
        if (res.destroyed) return;
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(body);
      };
      if (delayMs) setTimeout(send, delayMs).unref();
      else send();
    });
  });
  const port = await listen(server);
  worker.url = `http://127.0.0.1:${port}/fetch`;
  worker.close = () => close(server);
  return worker;
}

/** Samples RSS while `work` runs; resolves with its result and the peak growth over the starting RSS. */
export async function measureRssGrowth<T>(
  work: () => Promise<T>,
  everyMs = 10,
): Promise<{ result: T; growthBytes: number; baselineBytes: number }> {
  const baselineBytes = process.memoryUsage().rss;
  let peak = baselineBytes;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, everyMs);
  try {
    const result = await work();
    peak = Math.max(peak, process.memoryUsage().rss);
    return { result, growthBytes: peak - baselineBytes, baselineBytes };
  } finally {
    clearInterval(timer);
  }
}
