// End-to-end latency: POST → webhook received on a loopback sink, at a fixed (open-loop) rate, through
// one API process and one worker process. Also finds the highest rate sustained with p99 under a bound.
import { Agent } from 'node:http';
import { computeEmailId } from '@render-signal/contracts';
import { emailBody, percentile, pipelineEnv, postJson, startApi, startSink, startWorker } from './harness';

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
}

export async function endToEnd(redisUrl: string, rate: number, seconds: number): Promise<EndToEndResult> {
  const prefix = `bench-e2e-${rate}-${Date.now()}`;
  const sentAt = new Map<string, number>();
  const latencies: number[] = [];
  const sink = await startSink(0, (body) => {
    const start = sentAt.get(String(body.email_id));
    if (start !== undefined) latencies.push(performance.now() - start);
  });
  const env = pipelineEnv(redisUrl, prefix, sink.url, process.env.BENCH_LOG_LEVEL ? { LOG_LEVEL: process.env.BENCH_LOG_LEVEL } : {});
  const api = await startApi(env);
  const worker = await startWorker(env);
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const total = rate * seconds;
  let sent = 0;
  let accepted = 0;
  let refused = 0;
  const started = performance.now();
  const inflight: Array<Promise<void>> = [];
  // Open loop: request i leaves at started + i/rate, whatever the answers (a slow server cannot slow the sender).
  while (sent < total) {
    const due = started + (sent * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    const body = emailBody();
    sent += 1;
    // Keyed before sending: the webhook can reach the sink before the ingress answer reaches us.
    sentAt.set(computeEmailId(JSON.parse(body) as { subject: string; sender: string; date: string }), performance.now());
    inflight.push(
      postJson(agent, api.port, body).then(
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
  const deadline = Date.now() + 30_000;
  while (latencies.length < accepted && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  agent.destroy();
  api.child.kill('SIGTERM');
  worker.kill('SIGTERM');
  await new Promise((resolve) => (worker.exitCode !== null ? resolve(null) : worker.once('exit', resolve)));
  sink.server.close();
  sink.server.closeAllConnections();
  const sorted = [...latencies].sort((a, b) => a - b);
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
  };
}

export function formatEndToEnd(r: EndToEndResult, seconds: number): string {
  return (
    `${String(r.rate).padStart(5)}/s for ${seconds}s: sent ${r.sent}, accepted ${r.accepted}, refused ${r.refused}, delivered ${r.delivered}   ` +
    `p50 ${r.p50.toFixed(1)} ms   p95 ${r.p95.toFixed(1)} ms   p99 ${r.p99.toFixed(1)} ms   max ${r.max.toFixed(1)} ms   ` +
    `sent == delivered: ${r.accepted === r.delivered && r.refused === 0 ? 'yes' : 'NO'}`
  );
}

/** Steps the rate up until p99 exceeds the bound (or emails are lost); prints each step. */
export async function highestSustainedRate(redisUrl: string, options: { rates: number[]; seconds: number; p99BoundMs: number }): Promise<void> {
  console.log(`\n## Highest rate sustained for ${options.seconds} s with p99 < ${options.p99BoundMs} ms`);
  let best: number | undefined;
  for (const rate of options.rates) {
    const result = await endToEnd(redisUrl, rate, options.seconds);
    console.log(formatEndToEnd(result, options.seconds));
    const ok = result.p99 < options.p99BoundMs && result.accepted === result.delivered && result.refused === 0;
    if (!ok) break;
    best = rate;
  }
  console.log(best === undefined ? `no tested rate held p99 < ${options.p99BoundMs} ms` : `highest sustained: ${best} emails/s`);
}
