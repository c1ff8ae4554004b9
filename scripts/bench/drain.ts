// Drain capacity: N emails already queued, then P worker processes start against a sink that answers at once;
// deliveries per second from the first webhook to the last. Ours (the built worker) against bare single-job
// BullMQ workers (one job per email, a fetch POST: scripts/bench/bare-worker.ts), same emails, same sink, same
// number of processes. Also Redis commands (INFO commandstats) and the Redis server's CPU time (INFO cpu) per email
// and the workers' CPU per email.
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import type { ChildProcess } from 'node:child_process';
import { computeEmailId } from '@render-signal/contracts';
import { cpuMs, emailBody, firstJsonLine, pipelineEnv, redisCpuSeconds, spawnNode, startSink, startWorker } from './harness';

export interface DrainResult {
  pipeline: 'bare' | 'render-signal';
  emails: number;
  delivered: number;
  seconds: number;
  perSecond: number;
  redisCommandsPerEmail: number;
  redisUsecPerEmail: number;
  workerCpuMsPerEmail: number;
  /** Per command name, the most called first: calls and µs (commandstats) per email. */
  topCommands: Array<[string, number, number]>;
}

/** Per command: calls and usec (a script's usec includes the commands it ran, which are counted too); `cpu`: server CPU s. */
async function commandStats(redis: Redis): Promise<{ commands: Map<string, { calls: number; usec: number }>; cpu: number }> {
  const info = await redis.info('commandstats');
  const commands = new Map<string, { calls: number; usec: number }>();
  for (const line of info.split('\n')) {
    const match = /^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/.exec(line.trim());
    if (match) commands.set(match[1]!, { calls: Number(match[2]), usec: Number(match[3]) });
  }
  return { commands, cpu: redisCpuSeconds(await redis.info('cpu')) };
}

export async function drainOnce(
  redisUrl: string,
  pipeline: 'bare' | 'render-signal',
  options: { emails: number; processes: number; env?: Record<string, string> },
): Promise<DrainResult> {
  const prefix = `bench-drain-${pipeline}-${Date.now()}`;
  const expected = new Set<string>();
  let delivered = 0;
  let firstAt = 0;
  let lastAt = 0;
  const sink = await startSink(0, (body) => {
    if (!expected.delete(String(body.email_id))) return;
    delivered += 1;
    lastAt = performance.now();
    if (firstAt === 0) firstAt = lastAt;
  });
  const admin = new Redis(redisUrl);
  const queue = new Queue('email', { connection: admin, prefix });
  // Enqueued from here, not through an API: the figure is the workers' alone. Our job data is what the ingress adds.
  for (let start = 0; start < options.emails; start += 1_000) {
    const jobs = [];
    for (let i = start; i < Math.min(options.emails, start + 1_000); i++) {
      const email = JSON.parse(emailBody()) as { subject: string; sender: string; date: string; body: string };
      const emailId = computeEmailId(email);
      expected.add(emailId);
      jobs.push(
        pipeline === 'bare'
          ? { name: 'process', data: email }
          : {
              name: 'process',
              data: { email_id: emailId, accepted_at: Date.now(), email },
              opts: { jobId: `${emailId}.d${i}`, removeOnComplete: { age: 86_400, count: 5_000 }, removeOnFail: { count: 50_000 } },
            },
      );
    }
    await queue.addBulk(jobs);
  }
  const before = await commandStats(admin);
  // BENCH_ENV_<NAME>=value sets <NAME> for our workers, as in the end-to-end runs (e.g. BENCH_ENV_DELIVERY_FAST_PATH=false).
  const overrides = Object.fromEntries(
    Object.entries(process.env).flatMap(([k, v]) => (k.startsWith('BENCH_ENV_') && v !== undefined ? [[k.slice(10), v]] : [])),
  );
  const env = pipelineEnv(redisUrl, prefix, sink.url, { LOG_LEVEL: 'info', ...options.env, ...overrides });
  const workers: ChildProcess[] = await Promise.all(
    Array.from({ length: options.processes }, async () => {
      if (pipeline === 'render-signal') return startWorker(env);
      const child = spawnNode('scripts/bench/bare-worker.ts', [redisUrl, prefix, sink.url, 'one-stage']);
      await firstJsonLine(child, (o) => o.event === 'worker.started');
      return child;
    }),
  );
  const cpuBefore = workers.reduce((sum, w) => sum + cpuMs(w.pid), 0);
  const deadline = Date.now() + 300_000;
  while (delivered < options.emails && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  const cpuAfter = workers.reduce((sum, w) => sum + cpuMs(w.pid), 0);
  const after = await commandStats(admin);
  await Promise.all(
    workers.map(async (child) => {
      child.kill('SIGTERM');
      await new Promise((resolve) => (child.exitCode !== null ? resolve(null) : child.once('exit', resolve)));
    }),
  );
  sink.server.close();
  sink.server.closeAllConnections();
  if (pipeline === 'render-signal') {
    // How many emails took the delivery jobs instead of the fast path (fan-out none here: busy or slow host, failures).
    const deliveries = new Queue('delivery', { connection: admin, prefix });
    const counts = await deliveries.getJobCounts('completed', 'failed', 'waiting', 'delayed', 'prioritized', 'active');
    console.log(`        delivery jobs created: ${Object.values(counts).reduce((a, b) => a + b, 0)} (${JSON.stringify(counts)})`);
    await deliveries.close();
  }
  await queue.close();
  // Drop the run's keys (the bench's Redis is private, but the next runs share it).
  const stream = admin.scanStream({ match: `${prefix}:*`, count: 1_000 });
  for await (const keys of stream as AsyncIterable<string[]>) if (keys.length > 0) await admin.unlink(...keys);
  admin.disconnect();
  let calls = 0;
  const perCommand: Array<[string, number, number]> = [];
  for (const [name, a] of after.commands) {
    const b = before.commands.get(name) ?? { calls: 0, usec: 0 };
    if (name === 'info') continue;
    calls += a.calls - b.calls;
    if (a.calls > b.calls)
      perCommand.push([name, (a.calls - b.calls) / Math.max(1, delivered), (a.usec - b.usec) / Math.max(1, delivered)]);
  }
  // The server's CPU time over the drain (commandstats' usec counts a script's inner commands twice).
  const usec = (after.cpu - before.cpu) * 1e6;
  const seconds = (lastAt - firstAt) / 1000;
  return {
    pipeline,
    emails: options.emails,
    delivered,
    seconds,
    perSecond: delivered / Math.max(seconds, 0.001),
    redisCommandsPerEmail: calls / Math.max(1, delivered),
    redisUsecPerEmail: usec / Math.max(1, delivered),
    workerCpuMsPerEmail: (cpuAfter - cpuBefore) / Math.max(1, delivered),
    topCommands: perCommand.sort((x, y) => y[1] - x[1]).slice(0, 12),
  };
}

export function formatDrain(r: DrainResult): string {
  return (
    `${r.pipeline.padEnd(13)} delivered ${r.delivered}/${r.emails} in ${r.seconds.toFixed(1)} s = ${r.perSecond.toFixed(0)}/s   ` +
    `worker CPU ${r.workerCpuMsPerEmail.toFixed(2)} ms/email   Redis ${r.redisCommandsPerEmail.toFixed(1)} commands, ` +
    `${r.redisUsecPerEmail.toFixed(0)} µs/email   sent == delivered: ${r.delivered === r.emails ? 'yes' : 'NO'}\n` +
    `              per email (calls, µs): ${r.topCommands.map(([n, c, us]) => `${n} ${c.toFixed(1)} ${us.toFixed(0)}`).join(', ')}`
  );
}

/** Alternating rounds (bare, ours, bare, ours…), the median round of each; the ratio is ours / bare. */
export async function benchDrain(
  redisUrl: string,
  options: { emails: number; processes: number; rounds: number },
): Promise<{ bare: DrainResult; ours: DrainResult; ratio: number }> {
  console.log(
    `\n## Drain capacity (${options.emails} emails queued, then ${options.processes} worker processes; sink answers at once; ` +
      `${options.rounds} alternating rounds, median)`,
  );
  const runs: Record<'bare' | 'render-signal', DrainResult[]> = { bare: [], 'render-signal': [] };
  for (let round = 0; round < options.rounds; round++)
    for (const pipeline of ['bare', 'render-signal'] as const) runs[pipeline].push(await drainOnce(redisUrl, pipeline, options));
  const median = (list: DrainResult[]) => [...list].sort((a, b) => a.perSecond - b.perSecond)[Math.floor(list.length / 2)]!;
  const bare = median(runs.bare);
  const ours = median(runs['render-signal']);
  console.log(
    `rounds (deliveries/s): bare ${runs.bare.map((r) => r.perSecond.toFixed(0)).join(', ')}; ` +
      `render-signal ${runs['render-signal'].map((r) => r.perSecond.toFixed(0)).join(', ')}`,
  );
  console.log(formatDrain(bare));
  console.log(formatDrain(ours));
  const ratio = ours.perSecond / bare.perSecond;
  console.log(
    `ratio render-signal / bare: deliveries/s ${ratio.toFixed(2)}   Redis commands ${(ours.redisCommandsPerEmail / bare.redisCommandsPerEmail).toFixed(2)}   ` +
      `Redis µs ${(ours.redisUsecPerEmail / bare.redisUsecPerEmail).toFixed(2)}   worker CPU ${(ours.workerCpuMsPerEmail / bare.workerCpuMsPerEmail).toFixed(2)}`,
  );
  return { bare, ours, ratio };
}
