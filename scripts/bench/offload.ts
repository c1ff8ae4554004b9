// Offload benchmark (direct mode): MB/s and RSS ceiling of one 200 MiB transfer, against a baseline
// measured in the same run. Prints figures; never asserts (CI does not run it).
//
// Every party runs in its own child process (this file with a flag), so nothing but the transfer is
// counted: s3rver and the deterministic-bytes source in one (--serve-fixtures), and each contender in a
// fresh one (--measure=<contender>) after a small warm-up transfer of its own kind:
//  - discard: the source piped into a sink that drops the bytes (the loopback network ceiling);
//  - sdk: the source piped into the raw AWS SDK `Upload` (same client, part size and queue size): the baseline;
//  - offload: `createOffloader(...).offload()` in direct mode (got stream → size counter → Upload, source policy).
import { spawn, type ChildProcess } from 'node:child_process';
import { get, type IncomingMessage } from 'node:http';
import { Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Upload } from '@aws-sdk/lib-storage';
import { createOffloader, createStoreClient, DEFAULT_PART_SIZE_BYTES, DEFAULT_QUEUE_SIZE } from '@render-signal/offload';
import { S3RVER_CREDENTIALS, startS3rver, startSourceServer } from '../../packages/offload/src/test-servers';

const MiB = 1024 * 1024;
const TRANSFER_BYTES = 200 * MiB;
const WARM_UP_BYTES = 16 * MiB;
const SAMPLE_EVERY_MS = 50;
const ROUNDS = 3;
const BUCKET = 'bench-offload';
const PROVIDER = 'fromsmash'; // normalisation keeps the http:// loopback URL as it is
const SERVE_FLAG = '--serve-fixtures';
const MEASURE_FLAG = '--measure';

interface Fixtures {
  s3: string;
  source: string;
}

interface Measurement {
  seconds: number;
  bytes: number;
  /** Peak RSS (sampled every 50 ms) minus RSS just before the transfer. */
  rssCeilingBytes: number;
}

/** Child side: s3rver with one bucket and the deterministic-bytes source, then one JSON line with their URLs. */
async function serveFixtures(): Promise<void> {
  const [s3, source] = await Promise.all([startS3rver(BUCKET), startSourceServer()]);
  const stop = () => {
    void Promise.all([s3.close(), source.close()]).finally(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  console.log(JSON.stringify({ s3: s3.endpoint, source: source.origin } satisfies Fixtures));
}

/** Runs this file with `args` in a child process; resolves with the first JSON line it prints. */
async function startChild(args: string[]): Promise<{ process: ChildProcess; line: Record<string, unknown> }> {
  const child = spawn(process.execPath, ['--no-warnings', '--import', 'tsx', fileURLToPath(import.meta.url), ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const line = await new Promise<Record<string, unknown>>((resolve, reject) => {
    let buffer = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      const found = buffer.split('\n').find((candidate) => candidate.startsWith('{') && candidate.endsWith('}'));
      if (found) resolve(JSON.parse(found) as Record<string, unknown>);
    });
    child.once('exit', (code) => reject(new Error(`bench child ${args[0]} exited (${code}) before printing its result`)));
  });
  return { process: child, line };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

async function measure(work: () => Promise<number>): Promise<Measurement> {
  const before = process.memoryUsage().rss;
  let peak = before;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, SAMPLE_EVERY_MS);
  const started = performance.now();
  try {
    const bytes = await work();
    const seconds = (performance.now() - started) / 1000;
    peak = Math.max(peak, process.memoryUsage().rss);
    return { seconds, bytes, rssCeilingBytes: peak - before };
  } finally {
    clearInterval(sampler);
  }
}

function openSource(url: string): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    get(url, (response) => {
      if (response.statusCode !== 200) reject(new Error(`source answered HTTP ${response.statusCode}`));
      else resolve(response);
    }).on('error', reject);
  });
}

/** Bytes that reached the end of the pipe, discarded as they come. */
async function sourceToDiscard(url: string): Promise<number> {
  let bytes = 0;
  await pipeline(
    await openSource(url),
    new Writable({
      write(chunk: Buffer, _encoding, callback) {
        bytes += chunk.length;
        callback();
      },
    }),
  );
  return bytes;
}

const fileUrl = (fixtures: Fixtures, name: string, size: number) => `${fixtures.source}/file/${name}?size=${size}`;
const mbPerSecond = (m: Measurement) => m.bytes / 1e6 / m.seconds;
const mib = (bytes: number) => `${(bytes / MiB).toFixed(1)} MiB`;

type Contender = 'discard' | 'offload' | 'sdk';

/** Median speed and median RSS ceiling, taken separately (a round can be fast and fat). */
function medianOf(measurements: Measurement[]): Measurement {
  const middle = <T>(values: T[], by: (value: T) => number): T => [...values].sort((a, b) => by(a) - by(b))[Math.floor(values.length / 2)]!;
  const bySpeed = middle(measurements, mbPerSecond);
  return { ...bySpeed, rssCeilingBytes: middle(measurements, (m) => m.rssCeilingBytes).rssCeilingBytes };
}

/**
 * Child side: one contender in a fresh process, warmed up with a small transfer of its own kind, then
 * measured once; prints the measurement as one JSON line. A fresh process each, because RSS never
 * shrinks back: whichever ran second in a shared process would find the arenas already grown.
 */
async function measureContender(contender: Contender, fixtures: Fixtures): Promise<void> {
  const client = createStoreClient({ endpoint: fixtures.s3, ...S3RVER_CREDENTIALS });
  const offloader = createOffloader(
    {
      enabled: true,
      mode: 'direct',
      bucket: BUCKET,
      s3: { endpoint: fixtures.s3, ...S3RVER_CREDENTIALS },
      allowedHosts: ['127.0.0.1'],
      allowPrivateNetwork: true,
      timeouts: { defaultMs: 60_000 },
    },
    { s3Client: client },
  );
  const transfers: Record<Contender, (name: string, size: number) => Promise<number>> = {
    discard: (name, size) => sourceToDiscard(fileUrl(fixtures, name, size)),
    offload: async (name, size) => {
      const result = await offloader.offload({ provider: PROVIDER, raw_url: fileUrl(fixtures, name, size) }, { emailId: `bench-${name}` });
      if (!result.ok) throw new Error(`offload of ${name} failed: ${result.reason} ${result.detail ?? ''}`);
      return result.bytes ?? 0;
    },
    sdk: async (name, size) => {
      let bytes = 0;
      // Counted by a pass-through rather than a 'data' listener, which would switch the source to
      // flowing mode and bypass the Upload's backpressure.
      const counter = new Transform({
        transform(chunk: Buffer, _encoding, callback) {
          bytes += chunk.length;
          callback(null, chunk);
        },
      });
      const upload = new Upload({
        client,
        params: { Bucket: BUCKET, Key: `baseline/${name}`, Body: counter, ContentType: 'application/octet-stream' },
        partSize: DEFAULT_PART_SIZE_BYTES,
        queueSize: DEFAULT_QUEUE_SIZE,
        leavePartsOnError: false,
      });
      await Promise.all([pipeline(await openSource(fileUrl(fixtures, name, size)), counter), upload.done()]);
      return bytes;
    },
  };
  const transfer = transfers[contender];
  // Warm-up: loads and JITs the SDK, got and stream paths before the measured transfer.
  await transfer(`${contender}-warm-up.bin`, WARM_UP_BYTES);
  const measurement = await measure(() => transfer(`${contender}.bin`, TRANSFER_BYTES));
  client.destroy();
  console.log(JSON.stringify(measurement));
}

export async function benchOffload(): Promise<void> {
  const fixturesChild = await startChild([SERVE_FLAG]);
  try {
    const fixtures = fixturesChild.line as unknown as Fixtures;
    const run = async (contender: Contender): Promise<Measurement> => {
      const child = await startChild([`${MEASURE_FLAG}=${contender}`, JSON.stringify(fixtures)]);
      await stopChild(child.process);
      return child.line as unknown as Measurement;
    };
    // Sequential (the contenders share the cores and the one s3rver), alternating so that machine noise
    // hits both alike; each figure is the median of its rounds.
    const ceiling = await run('discard');
    const rounds: Record<'sdk' | 'offload', Measurement[]> = { sdk: [], offload: [] };
    for (let round = 0; round < ROUNDS; round += 1) {
      for (const contender of ['sdk', 'offload'] as const) rounds[contender].push(await run(contender));
    }
    const baseline = medianOf(rounds.sdk);
    const ours = medianOf(rounds.offload);

    const row = (name: string, m: Measurement) =>
      `${name.padEnd(40)} ${mbPerSecond(m).toFixed(1).padStart(7)} MB/s   ${m.seconds.toFixed(2).padStart(6)} s   RSS ceiling +${mib(m.rssCeilingBytes)}   bytes ${m.bytes === TRANSFER_BYTES ? 'ok' : `${m.bytes} (expected ${TRANSFER_BYTES})`}`;
    console.log(
      `\n## File offload, direct mode (${mib(TRANSFER_BYTES)} loopback source → s3rver in a child process; each transfer in a fresh process ` +
        `after a ${mib(WARM_UP_BYTES)} warm-up; parts ${mib(DEFAULT_PART_SIZE_BYTES)} × queue ${DEFAULT_QUEUE_SIZE}; RSS sampled every ${SAMPLE_EVERY_MS} ms; median of ${ROUNDS} alternating rounds)`,
    );
    const list = (ms: Measurement[]) =>
      ms.map((m) => `${mbPerSecond(m).toFixed(0)} MB/s +${(m.rssCeilingBytes / MiB).toFixed(0)} MiB`).join(', ');
    console.log(`rounds: baseline ${list(rounds.sdk)}; offload ${list(rounds.offload)}`);
    console.log(row('network ceiling: source → discard', ceiling));
    console.log(row('baseline: raw SDK Upload of the source', baseline));
    console.log(row('render-signal offload (createOffloader)', ours));
    console.log(
      `ratio offload / baseline: MB/s ${(mbPerSecond(ours) / mbPerSecond(baseline)).toFixed(2)}, ` +
        `RSS ceiling ${(ours.rssCeilingBytes / Math.max(1, baseline.rssCeilingBytes)).toFixed(2)} ` +
        `(issue budget: +64 MiB while transferring a 500 MB file)`,
    );
  } finally {
    await stopChild(fixturesChild.process);
  }
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
const measureArg = process.argv.find((arg) => arg.startsWith(`${MEASURE_FLAG}=`));
if (isMain && (process.argv.includes(SERVE_FLAG) || measureArg)) {
  const child = measureArg
    ? measureContender(measureArg.slice(MEASURE_FLAG.length + 1) as Contender, JSON.parse(process.argv.at(-1) ?? '{}') as Fixtures)
    : serveFixtures();
  child.catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
