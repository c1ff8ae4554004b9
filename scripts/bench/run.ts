// npm run bench — prints figures; never asserts on timing (CI does not run it).
// Starts its own redis-server (the bench fills Redis), then:
//  1. ingress throughput: our API vs a bare `queue.add` endpoint, same load, same run → ratio
//  2. end-to-end latency (POST → webhook received on a loopback sink) at fixed rates
import { spawn, type ChildProcess } from 'node:child_process';
import { Agent, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { computeEmailId } from '@render-signal/contracts';
import { startRedisServer, removeRedisDir } from '../../test/helpers/redis-server';
import { benchOffload } from './offload';

const ROOT = join(new URL('.', import.meta.url).pathname, '../..');
const TOKEN = 'bench-token-123';
const args = new Map(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=') as [string, string]));
const THROUGHPUT_SECONDS = Number(args.get('duration') ?? 10);
const E2E_SECONDS = Number(args.get('e2e-duration') ?? 20);
const E2E_RATES = (args.get('rates') ?? '500').split(',').map(Number);
const children: ChildProcess[] = [];

function spawnTs(file: string, argv: string[], env: Record<string, string> = {}): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, file), ...argv], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  return child;
}

async function firstJsonLine<T>(child: ChildProcess, match: (o: Record<string, unknown>) => boolean): Promise<T> {
  return new Promise((resolve, reject) => {
    let buffer = '';
    const onData = (chunk: Buffer) => {
      buffer += chunk.toString();
      for (const line of buffer.split('\n')) {
        try {
          const parsed = JSON.parse(line) as Record<string, unknown>;
          if (match(parsed)) {
            child.stdout!.off('data', onData);
            child.stdout!.resume();
            return resolve(parsed as T);
          }
        } catch {
          /* partial line */
        }
      }
    };
    child.stdout!.on('data', onData);
    child.on('exit', (code) => reject(new Error(`process exited (${code}) before it was ready`)));
  });
}

let seq = 0;
function emailBody(): string {
  seq += 1;
  return JSON.stringify({
    subject: `Bench ${seq} ${process.hrtime.bigint()}`,
    sender: 'Bench <bench@example.org>',
    date: new Date().toISOString(),
    body: `<p>Voici le lien : https://www.dropbox.com/scl/fo/abc${seq}/file.zip?dl=0</p>`,
  });
}

/** POST over a bounded keep-alive pool (like a real sender), resolving with status and JSON. */
function postJson(agent: Agent, port: number, body: string): Promise<{ status: number; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path: '/api/ingress/gmail', method: 'POST', agent, headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}`, 'content-length': Buffer.byteLength(body) } },
      (res) => {
        let data = '';
        res.on('data', (c: Buffer) => (data += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(data || '{}') as Record<string, unknown> }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

async function loadTest(url: string): Promise<autocannon.Result> {
  return autocannon({
    url: `${url}/api/ingress/gmail`,
    connections: 50,
    duration: THROUGHPUT_SECONDS,
    requests: [
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
        setupRequest: (req) => ({ ...req, body: emailBody() }),
      },
    ],
  });
}

const ROUNDS = Number(args.get('rounds') ?? 3);

async function throughput(redisUrl: string): Promise<void> {
  // Alternate baseline and ingress rounds so machine noise hits both alike; report the median round.
  const runs: Record<'bare' | 'ingress', autocannon.Result[]> = { bare: [], ingress: [] };
  for (let round = 0; round < ROUNDS; round++) {
    for (const kind of ['bare', 'ingress'] as const) {
      const server = spawnTs('scripts/bench/bench-server.ts', [kind, redisUrl, `bench-${kind}-${Date.now()}`]);
      const { port } = await firstJsonLine<{ port: number }>(server, (o) => typeof o.port === 'number');
      const url = `http://127.0.0.1:${port}`;
      await autocannon({ url: `${url}/api/ingress/gmail`, connections: 10, amount: 1000, method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` }, body: emailBody() }); // warm-up
      runs[kind].push(await loadTest(url));
      server.kill('SIGTERM');
    }
  }
  const median = (list: autocannon.Result[]) => [...list].sort((a, b) => a.requests.average - b.requests.average)[Math.floor(list.length / 2)]!;
  const bare = median(runs.bare);
  const ours = median(runs.ingress);
  console.log(`rounds (req/s): baseline ${runs.bare.map((r) => r.requests.average.toFixed(0)).join(', ')}; ingress ${runs.ingress.map((r) => r.requests.average.toFixed(0)).join(', ')}`);
  const row = (name: string, r: autocannon.Result) =>
    `${name.padEnd(28)} ${r.requests.average.toFixed(0).padStart(7)} req/s   p50 ${r.latency.p50} ms   p99 ${r.latency.p99} ms   non-2xx ${r.non2xx}   errors ${r.errors}`;
  console.log(`\n## Ingress throughput (median of ${ROUNDS} alternating rounds, ${THROUGHPUT_SECONDS}s each, 50 connections, unique emails)`);
  console.log(row('baseline: bare queue.add', bare));
  console.log(row('render-signal ingress', ours));
  console.log(`ratio ingress / baseline: ${(ours.requests.average / bare.requests.average).toFixed(2)}`);
}

async function endToEnd(redisUrl: string, rate: number): Promise<void> {
  const prefix = `bench-e2e-${rate}-${Date.now()}`;
  const sentAt = new Map<string, number>();
  const latencies: number[] = [];
  const sink = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c));
    req.on('end', () => {
      const id = (JSON.parse(body) as { email_id: string }).email_id;
      const start = sentAt.get(id);
      if (start !== undefined) latencies.push(performance.now() - start);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"success":true}');
    });
  });
  await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
  const sinkUrl = `http://127.0.0.1:${(sink.address() as AddressInfo).port}/hook`;
  const env = {
    REDIS_URL: redisUrl,
    QUEUE_PREFIX: prefix,
    PROCESS_API_TOKEN: TOKEN,
    SECRET_KEY: 'bench-secret-key-123456',
    WEBHOOK_URL: sinkUrl,
    WEBHOOK_SECRET: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
    ALLOW_PRIVATE_NETWORK: 'true',
    LOG_LEVEL: 'warn',
    PORT: '0',
  };
  const apiPort = 30_000 + Math.floor(Math.random() * 20_000);
  const api = spawnTs('apps/api/src/main.ts', [], { ...env, PORT: String(apiPort), LOG_LEVEL: 'info' });
  await firstJsonLine(api, (o) => o.event === 'api.started');
  const worker = spawnTs('apps/worker/src/main.ts', [], { ...env, LOG_LEVEL: 'info' });
  await firstJsonLine(worker, (o) => o.event === 'worker.started');

  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const total = rate * E2E_SECONDS;
  let sent = 0;
  let accepted = 0;
  let refused = 0;
  const started = performance.now();
  const inflight: Array<Promise<void>> = [];
  // Fixed-rate open loop: request i leaves at started + i/rate, whatever the answers.
  while (sent < total) {
    const due = started + (sent * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    const body = emailBody();
    sent += 1;
    // Keyed before sending: the webhook can reach the sink before the ingress answer reaches us.
    sentAt.set(computeEmailId(JSON.parse(body) as { subject: string; sender: string; date: string }), performance.now());
    inflight.push(
      postJson(agent, apiPort, body).then(
        ({ status, json }) => {
          if (status === 200 && json.status === 'queued') accepted += 1;
          else refused += 1;
        },
        () => {
          refused += 1;
        },
      ),
    );
  }
  await Promise.all(inflight);
  const sendSeconds = (performance.now() - started) / 1000;
  const deadline = Date.now() + 30_000;
  while (latencies.length < accepted && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  agent.destroy();
  api.kill('SIGTERM');
  worker.kill('SIGTERM');
  sink.close();
  const sorted = [...latencies].sort((a, b) => a - b);
  console.log(
    `${String(rate).padStart(5)}/s for ${E2E_SECONDS}s: sent ${sent} (${(sent / sendSeconds).toFixed(0)}/s achieved), accepted ${accepted}, refused ${refused}, delivered ${latencies.length}   ` +
      `p50 ${percentile(sorted, 50).toFixed(1)} ms   p95 ${percentile(sorted, 95).toFixed(1)} ms   p99 ${percentile(sorted, 99).toFixed(1)} ms   max ${(sorted.at(-1) ?? NaN).toFixed(1)} ms   ` +
      `sent == delivered: ${accepted === latencies.length && refused === 0 ? 'yes' : 'NO'}`,
  );
}

async function main(): Promise<void> {
  const redis = await startRedisServer();
  console.log(`# Render Signal benchmark — node ${process.version}, redis on port ${redis.port}, ${new Date().toISOString()}`);
  try {
    if (!args.has('skip-throughput')) await throughput(redis.url);
    if (!args.has('skip-e2e')) {
      console.log(`\n## End-to-end latency (POST → webhook received on a loopback sink; 1 API + 1 worker process)`);
      for (const rate of E2E_RATES) await endToEnd(redis.url, rate);
    }
    // File offload, direct mode: MB/s and RSS ceiling of a 200 MiB transfer vs the raw SDK Upload (scripts/bench/offload.ts).
    if (!args.has('skip-offload')) await benchOffload();
  } finally {
    for (const child of children) child.kill('SIGKILL');
    await removeRedisDir(redis);
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    for (const child of children) child.kill('SIGKILL');
    process.exit(1);
  },
);
