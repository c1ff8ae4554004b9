// Shared pieces of the benchmark: child processes from source, a counting sink, a paced sender.
import { spawn, type ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { createServer, request, type Agent, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const ROOT = join(new URL('.', import.meta.url).pathname, '../..');
export const TOKEN = 'bench-token-123';
const children: ChildProcess[] = [];

/** Runs a bench script (`.ts`, through tsx) or a built app (`.js`, plain node, as `npm run start:*` does). */
export function spawnNode(file: string, argv: string[], env: Record<string, string> = {}): ChildProcess {
  // BENCH_CPU_PROF=worker|api writes a V8 CPU profile of that process to .tmp/prof (for digging into a figure).
  const profile =
    process.env.BENCH_CPU_PROF && file.includes(process.env.BENCH_CPU_PROF)
      ? ['--cpu-prof', `--cpu-prof-dir=${join(ROOT, '.tmp/prof')}`]
      : [];
  // BENCH_NODE_FLAGS adds V8/node flags to every process the bench starts (e.g. --trace-gc, refused in NODE_OPTIONS).
  const flags = process.env.BENCH_NODE_FLAGS?.split(' ').filter(Boolean) ?? [];
  const loader = file.endsWith('.ts') ? ['--import', 'tsx'] : [];
  const child = spawn(process.execPath, [...profile, ...flags, ...loader, join(ROOT, file), ...argv], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  // Drained unless a caller listens: an unread pipe would hold the child's log lines in its memory.
  child.stdout?.resume();
  children.push(child);
  return child;
}

export function killAll(): void {
  for (const child of children) child.kill('SIGKILL');
}

/** Resolves with the first JSON line of the child's stdout that matches (then keeps draining stdout). */
export async function firstJsonLine<T>(child: ChildProcess, match: (o: Record<string, unknown>) => boolean): Promise<T> {
  return new Promise((resolve, reject) => {
    let buffer = '';
    const onData = (chunk: Buffer) => {
      buffer += chunk.toString();
      const lines = buffer.split('\n');
      buffer = lines.pop() ?? '';
      for (const line of lines) {
        try {
          const parsed = JSON.parse(line) as Record<string, unknown>;
          if (match(parsed)) {
            child.stdout!.off('data', onData);
            child.stdout!.resume();
            return resolve(parsed as T);
          }
        } catch {
          /* not JSON */
        }
      }
    };
    child.stdout!.on('data', onData);
    child.on('exit', (code) => reject(new Error(`process exited (${code}) before it was ready`)));
  });
}

/** Resident memory of a process in MB (ps), or NaN when it is gone. */
export function rssMb(pid: number | undefined): number {
  if (!pid) return Number.NaN;
  try {
    return Number(execFileSync('ps', ['-o', 'rss=', '-p', String(pid)], { encoding: 'utf8' }).trim()) / 1024;
  } catch {
    return Number.NaN;
  }
}

/** CPU time (user + system) a process has used so far, in ms, from /proc (Linux); NaN when unknown. */
export function cpuMs(pid: number | undefined): number {
  if (!pid) return Number.NaN;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name; utime and stime are the 14th and 15th fields overall.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return Number.NaN;
  }
}
const CLOCK_TICKS = 100; // sysconf(_SC_CLK_TCK) on Linux x86_64

/** The Redis server's own CPU time (user + system) in an `INFO` / `INFO cpu` reply, in seconds. */
export function redisCpuSeconds(info: string): number {
  const field = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? 0);
  return field('used_cpu_sys') + field('used_cpu_user');
}

export const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;

/** A difference in ms with its sign: "+81.5 ms", "-5.1 ms". */
export const signedMs = (ms: number) => `${ms >= 0 ? '+' : '-'}${Math.abs(ms).toFixed(1)} ms`;

let seq = 0;
export function emailBody(): string {
  seq += 1;
  return JSON.stringify({
    subject: `Bench ${seq} ${process.hrtime.bigint()}`,
    sender: 'Bench <bench@example.org>',
    date: new Date().toISOString(),
    body: `<p>Voici le lien : https://www.dropbox.com/scl/fo/abc${seq}/file.zip?dl=0</p>`,
  });
}

/** POST over a bounded keep-alive pool (like a real sender), resolving with status and JSON. */
export function postJson(agent: Agent, port: number, body: string): Promise<{ status: number; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/api/ingress/gmail',
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}`, 'content-length': Buffer.byteLength(body) },
      },
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

/** A loopback webhook receiver that answers after `delayMs` and calls `onWebhook` with the parsed body. */
export async function startSink(
  delayMs: number,
  onWebhook: (body: Record<string, unknown>) => void,
): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c));
    req.on('end', () => {
      onWebhook(JSON.parse(body) as Record<string, unknown>);
      const answer = () => res.writeHead(200, { 'content-type': 'application/json' }).end('{"success":true}');
      if (delayMs > 0) setTimeout(answer, delayMs);
      else answer();
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, server };
}

export function pipelineEnv(
  redisUrl: string,
  prefix: string,
  webhookUrl: string,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    REDIS_URL: redisUrl,
    QUEUE_PREFIX: prefix,
    PROCESS_API_TOKEN: TOKEN,
    SECRET_KEY: 'bench-secret-key-123456',
    WEBHOOK_URL: webhookUrl,
    WEBHOOK_SECRET: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
    ALLOW_PRIVATE_NETWORK: 'true',
    LOG_LEVEL: 'info',
    ...extra,
  };
}

async function freePort(): Promise<number> {
  const { createServer: createTcpServer } = await import('node:net');
  return new Promise((resolve) => {
    const server = createTcpServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export async function startApi(env: Record<string, string>): Promise<{ child: ChildProcess; port: number }> {
  const port = await freePort();
  // The built bundle, as in production (run.ts builds first).
  const child = spawnNode('apps/api/dist/main.js', [], { ...env, PORT: String(port) });
  // LOG_LEVEL above info would hide the readiness line: wait for the port instead.
  await waitForPort(port);
  // Listening comes before the Redis connection is ready (503 until then).
  for (let i = 0; i < 200; i++) {
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ready) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return { child, port };
}

export async function startWorker(env: Record<string, string>): Promise<ChildProcess> {
  // worker.started is logged at info: keep info for the start line, whatever LOG_LEVEL asks afterwards.
  const child = spawnNode('apps/worker/dist/main.js', [], env);
  if (env.LOG_LEVEL === 'warn' || env.LOG_LEVEL === 'error') {
    await new Promise((r) => setTimeout(r, 3_000));
    return child;
  }
  await firstJsonLine(child, (o) => o.event === 'worker.started');
  return child;
}

async function waitForPort(port: number): Promise<void> {
  for (let i = 0; i < 400; i++) {
    const up = await fetch(`http://127.0.0.1:${port}/healthz`).then(
      (r) => r.ok,
      () => false,
    );
    if (up) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`API did not listen on ${port}`);
}
