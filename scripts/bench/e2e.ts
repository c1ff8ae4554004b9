// End-to-end latency: POST → webhook received on a loopback sink, at a fixed (open-loop) rate, through
// one API process and one worker process. Also finds the highest rate sustained with p99 under a bound.
import type { ChildProcess } from 'node:child_process';
import { Agent } from 'node:http';
import { computeEmailId } from '@render-signal/contracts';
import { stageSummary, type StageSummary } from './stages';
import { cpuMs, emailBody, firstJsonLine, percentile, spawnNode, pipelineEnv, postJson, startApi, startSink, startWorker } from './harness';

export interface EndToEndResult {
  rate: number;
  sent: number;
  accepted: number;
  refused: number;
  delivered: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  /** CPU ms per accepted email, per process, over the sending + draining window. */
  cpuPerEmail: { api: number; worker: number; redis: number; bench: number };
  stages: StageSummary;
}

/**
 * Warm-up before the measured window, not counted: fresh processes (JIT, connection pools, heap sizing)
 * are slow for their first seconds, and a backlog built then would leak into the window. The rate ramps
 * (¼, ½, then the full rate, 2 s each) and the pipeline drains before measuring starts.
 */
const WARMUP_STEPS = [0.25, 0.5, 1];
const WARMUP_STEP_SECONDS = 2;

/**
 * The baselines share a bare `queue.add` endpoint and POST with fetch to the same sink on the same machine:
 * `bare` runs one BullMQ job per email; `two-stage` runs two (an email job that adds a delivery job), our design's shape.
 */
export type Pipeline = 'render-signal' | 'bare' | 'two-stage';
export const PIPELINES: readonly Pipeline[] = ['bare', 'two-stage', 'render-signal'];

export async function endToEnd(
  redisUrl: string,
  rate: number,
  seconds: number,
  redisPid?: number,
  pipeline: Pipeline = 'render-signal',
  workerCount = 1,
): Promise<EndToEndResult> {
  const prefix = `bench-e2e-${pipeline}-${rate}-${Date.now()}`;
  const sentAt = new Map<string, number>();
  const latencies: number[] = [];
  /** BENCH_TRACE=1: when each email left and how long it took, to see where the slow ones cluster. */
  const trace: Array<[sentAt: number, ms: number]> = [];
  // Wall-clock times of the measured window, for the stage breakdown (BullMQ's job timestamps are Date.now).
  const sentWall = new Map<string, number>();
  const receivedWall = new Map<string, number>();
  const sink = await startSink(0, (body) => {
    const id = String(body.email_id);
    const start = sentAt.get(id);
    if (start !== undefined) latencies.push(performance.now() - start);
    if (start !== undefined && process.env.BENCH_TRACE) trace.push([start, performance.now() - start]);
    if (sentWall.has(id)) receivedWall.set(id, Date.now());
  });
  // BENCH_ENV_<NAME>=value sets <NAME> for the API and workers (to try a setting without editing the bench).
  const overrides = Object.fromEntries(
    Object.entries(process.env).flatMap(([k, v]) => (k.startsWith('BENCH_ENV_') && v !== undefined ? [[k.slice(10), v]] : [])),
  );
  const env = pipelineEnv(redisUrl, prefix, sink.url, {
    ...(process.env.BENCH_LOG_LEVEL ? { LOG_LEVEL: process.env.BENCH_LOG_LEVEL } : {}),
    ...overrides,
  });
  const api = pipeline === 'render-signal' ? await startApi(env) : await startBareApi(redisUrl, prefix);
  const workers = await Promise.all(
    Array.from({ length: workerCount }, () =>
      pipeline === 'render-signal'
        ? startWorker(env)
        : startBareWorker(redisUrl, prefix, sink.url, pipeline === 'bare' ? 'one-stage' : 'two-stage'),
    ),
  );
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  /** Open loop: request i leaves at started + i/rate, whatever the answers (a slow server cannot slow the sender). */
  const sendAtRate = async (count: number, perSecond: number, measured = false) => {
    latencies.length = 0;
    const tally = { sent: 0, accepted: 0, refused: 0 };
    const started = performance.now();
    const inflight: Array<Promise<void>> = [];
    while (tally.sent < count) {
      const due = started + (tally.sent * 1000) / perSecond;
      const wait = due - performance.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      const body = emailBody();
      tally.sent += 1;
      // Keyed before sending: the webhook can reach the sink before the ingress answer reaches us.
      const emailId = computeEmailId(JSON.parse(body) as { subject: string; sender: string; date: string });
      sentAt.set(emailId, performance.now());
      if (measured) sentWall.set(emailId, Date.now());
      inflight.push(
        postJson(agent, api.port, body).then(
          ({ status, json }) => {
            if (status === 200 && json.status === 'queued') tally.accepted += 1;
            else tally.refused += 1;
          },
          () => {
            tally.refused += 1;
          },
        ),
      );
    }
    await Promise.all(inflight);
    const deadline = Date.now() + 30_000;
    while (latencies.length < tally.accepted && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    return tally;
  };
  for (const step of WARMUP_STEPS) await sendAtRate(Math.round(rate * step * WARMUP_STEP_SECONDS), rate * step);
  await new Promise((r) => setTimeout(r, 1_000));
  const cpuOf = () => ({
    api: cpuMs(api.child.pid),
    worker: workers.reduce((sum, w) => sum + cpuMs(w.pid), 0),
    redis: cpuMs(redisPid),
    bench: cpuMs(process.pid),
  });
  const cpuBefore = cpuOf();
  const { sent, accepted, refused } = await sendAtRate(rate * seconds, rate, true);
  const cpuAfter = cpuOf();
  const perEmail = (k: keyof typeof cpuAfter) => (cpuAfter[k] - cpuBefore[k]) / Math.max(1, accepted);
  agent.destroy();
  // Waiting for the exits lets a process started with BENCH_CPU_PROF write its profile.
  await Promise.all(
    [api.child, ...workers].map(async (child) => {
      child.kill('SIGTERM');
      await new Promise((resolve) => (child.exitCode !== null ? resolve(null) : child.once('exit', resolve)));
    }),
  );
  sink.server.close();
  sink.server.closeAllConnections();
  const stages = await stageSummary(redisUrl, prefix, sentWall, receivedWall);
  const sorted = [...latencies].sort((a, b) => a - b);
  if (process.env.BENCH_TRACE)
    console.log(`        slow windows (s into the round: slowest ms, over 40 ms): ${slowWindows(trace.slice(-latencies.length))}`);
  return {
    rate,
    sent,
    accepted,
    refused,
    delivered: latencies.length,
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    max: sorted.at(-1) ?? Number.NaN,
    cpuPerEmail: { api: perEmail('api'), worker: perEmail('worker'), redis: perEmail('redis'), bench: perEmail('bench') },
    stages,
  };
}

/** The 250 ms windows of sending whose slowest email took over 40 ms. */
function slowWindows(trace: Array<[number, number]>): string {
  const start = trace.reduce((min, [at]) => Math.min(min, at), Number.POSITIVE_INFINITY);
  const slowest = new Map<number, number>();
  for (const [at, ms] of trace) {
    const window = Math.floor((at - start) / 250);
    slowest.set(window, Math.max(slowest.get(window) ?? 0, ms));
  }
  return [...slowest]
    .filter(([, ms]) => ms > 40)
    .sort(([a], [b]) => a - b)
    .map(([window, ms]) => `${(window / 4).toFixed(2)}:${Math.round(ms)}`)
    .join(' ');
}

export function formatEndToEnd(r: EndToEndResult, seconds: number): string {
  const c = r.cpuPerEmail;
  return (
    `${String(r.rate).padStart(5)}/s for ${seconds}s: sent ${r.sent}, accepted ${r.accepted}, refused ${r.refused}, delivered ${r.delivered}   ` +
    `p50 ${r.p50.toFixed(1)} ms   p95 ${r.p95.toFixed(1)} ms   p99 ${r.p99.toFixed(1)} ms   max ${r.max.toFixed(1)} ms   ` +
    `sent == delivered: ${r.accepted === r.delivered && r.refused === 0 ? 'yes' : 'NO'}\n` +
    `        CPU ms per email: api ${c.api.toFixed(2)}   worker ${c.worker.toFixed(2)}   redis ${c.redis.toFixed(2)}   sender+sink ${c.bench.toFixed(2)}`
  );
}

/** Steps the rate up until p99 exceeds the bound (or emails are lost); prints each step. */
export async function highestSustainedRate(
  redisUrl: string,
  options: { rates: number[]; seconds: number; p99BoundMs: number; redisPid?: number },
): Promise<void> {
  console.log(`\n## Highest rate sustained for ${options.seconds} s with p99 < ${options.p99BoundMs} ms`);
  let best: number | undefined;
  for (const rate of options.rates) {
    const result = await endToEnd(redisUrl, rate, options.seconds, options.redisPid);
    console.log(formatEndToEnd(result, options.seconds));
    const ok = result.p99 < options.p99BoundMs && result.accepted === result.delivered && result.refused === 0;
    if (!ok) break;
    best = rate;
  }
  console.log(best === undefined ? `no tested rate held p99 < ${options.p99BoundMs} ms` : `highest sustained: ${best} emails/s`);
}

async function startBareApi(redisUrl: string, prefix: string): Promise<{ child: ChildProcess; port: number }> {
  const child = spawnNode('scripts/bench/bench-server.ts', ['bare', redisUrl, prefix]);
  const { port } = await firstJsonLine<{ port: number }>(child, (o) => typeof o.port === 'number');
  return { child, port };
}

async function startBareWorker(redisUrl: string, prefix: string, sinkUrl: string, shape: 'one-stage' | 'two-stage'): Promise<ChildProcess> {
  const child = spawnNode('scripts/bench/bare-worker.ts', [redisUrl, prefix, sinkUrl, shape]);
  await firstJsonLine(child, (o) => o.event === 'worker.started');
  return child;
}
