// A worker process joining under load: one API and one worker at 500/s (after the same ramped warm-up as the
// end-to-end runs), p99 over 10 s; then a second worker process is started and the next 10 s are measured from
// the moment it is spawned (its boot, JIT warm-up and first fetches all fall inside the window).
import { Agent } from 'node:http';
import { computeEmailId } from '@render-signal/contracts';
import { emailBody, percentile, signedMs, pipelineEnv, postJson, spawnNode, startApi, startSink, startWorker } from './harness';

export interface WindowResult {
  accepted: number;
  delivered: number;
  p50: number;
  p99: number;
}

export async function benchWorkerJoin(
  redisUrl: string,
  options: { rate: number; seconds: number; redisPid?: number },
): Promise<{ before: WindowResult; after: WindowResult; lost: number }> {
  console.log(`\n## A worker process joining at ${options.rate}/s (1 API + 1 worker, then a 2nd worker; ${options.seconds} s windows)`);
  const prefix = `bench-join-${Date.now()}`;
  const sentAt = new Map<string, number>();
  let latencies: number[] = [];
  const sink = await startSink(0, (body) => {
    const start = sentAt.get(String(body.email_id));
    if (start !== undefined) {
      latencies.push(performance.now() - start);
      sentAt.delete(String(body.email_id));
    }
  });
  const env = pipelineEnv(redisUrl, prefix, sink.url);
  const api = await startApi(env);
  const first = await startWorker(env);
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const send = async (count: number, perSecond: number): Promise<WindowResult> => {
    latencies = [];
    let accepted = 0;
    const started = performance.now();
    const inflight: Array<Promise<void>> = [];
    for (let sent = 0; sent < count; sent++) {
      const wait = started + (sent * 1000) / perSecond - performance.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      const body = emailBody();
      sentAt.set(computeEmailId(JSON.parse(body) as { subject: string; sender: string; date: string }), performance.now());
      inflight.push(
        postJson(agent, api.port, body).then(
          ({ status, json }) => void (status === 200 && json.status === 'queued' && (accepted += 1)),
          () => undefined,
        ),
      );
    }
    await Promise.all(inflight);
    const deadline = Date.now() + 30_000;
    while (latencies.length < accepted && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const sorted = [...latencies].sort((a, b) => a - b);
    return { accepted, delivered: latencies.length, p50: percentile(sorted, 50), p99: percentile(sorted, 99) };
  };
  for (const step of [0.25, 0.5, 1]) await send(Math.round(options.rate * step * 2), options.rate * step);
  await new Promise((r) => setTimeout(r, 1_000));
  const before = await send(options.rate * options.seconds, options.rate);
  // Spawned, not awaited: the window starts with the process's boot.
  const second = spawnNode('apps/worker/dist/main.js', [], env);
  const after = await send(options.rate * options.seconds, options.rate);
  const lost = before.accepted - before.delivered + (after.accepted - after.delivered);
  for (const child of [api.child, first, second]) child.kill('SIGTERM');
  agent.destroy();
  sink.server.close();
  sink.server.closeAllConnections();
  const row = (name: string, r: WindowResult) =>
    `${name.padEnd(34)} accepted ${r.accepted}, delivered ${r.delivered}   p50 ${r.p50.toFixed(1)} ms   p99 ${r.p99.toFixed(1)} ms`;
  console.log(row('1 worker (the 10 s before)', before));
  console.log(row('2nd worker starting (its first 10 s)', after));
  console.log(`p99 added by the joining worker: ${signedMs(after.p99 - before.p99)}   sent == delivered: ${lost === 0 ? 'yes' : 'NO'}`);
  return { before, after, lost };
}
