// Worker scaling: delivered/s with 1, 2 and 4 worker processes against a sink that answers in 50 ms
// (I/O bound). Emails are enqueued first, then the workers start: the figure is pure processing rate.
import { Agent } from 'node:http';
import { computeEmailId } from '@render-signal/contracts';
import { emailBody, pipelineEnv, postJson, startApi, startSink, startWorker } from './harness';

/**
 * `concurrency` is kept small so one process is bound by waiting on the sink (I/O), not by this machine's
 * two cores: that is the situation where adding worker processes must add throughput.
 */
export async function benchWorkerScaling(
  redisUrl: string,
  options: { emails: number; processes: number[]; sinkDelayMs: number; concurrency: number },
): Promise<void> {
  console.log(
    `\n## Worker scaling (${options.emails} emails, sink answers in ${options.sinkDelayMs} ms, DELIVERY_CONCURRENCY ${options.concurrency} per process)`,
  );
  const rates: number[] = [];
  for (const count of options.processes) {
    const prefix = `bench-scale-${count}-${Date.now()}`;
    const expected = new Set<string>();
    let delivered = 0;
    let firstAt = 0;
    let lastAt = 0;
    const sink = await startSink(options.sinkDelayMs, (body) => {
      if (expected.has(String(body.email_id))) {
        delivered += 1;
        lastAt = performance.now();
      }
    });
    // One target host: lift the per-target cap so the figure measures the workers, not the isolation rule.
    const env = pipelineEnv(redisUrl, prefix, sink.url, { DELIVERY_CONCURRENCY: String(options.concurrency), LOG_LEVEL: 'info' });
    const api = await startApi(env);
    const agent = new Agent({ keepAlive: true, maxSockets: 32 });
    const pending: Array<Promise<unknown>> = [];
    for (let i = 0; i < options.emails; i++) {
      const body = emailBody();
      expected.add(computeEmailId(JSON.parse(body) as { subject: string; sender: string; date: string }));
      pending.push(postJson(agent, api.port, body));
      if (pending.length >= 64) await Promise.all(pending.splice(0));
    }
    await Promise.all(pending);
    agent.destroy();
    const workers = await Promise.all(Array.from({ length: count }, () => startWorker(env)));
    firstAt = performance.now();
    const deadline = Date.now() + 120_000;
    while (delivered < options.emails && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const seconds = (lastAt - firstAt) / 1000;
    const rate = delivered / seconds;
    rates.push(rate);
    console.log(
      `${String(count).padStart(2)} worker process(es): delivered ${delivered}/${options.emails} in ${seconds.toFixed(1)} s = ${rate.toFixed(0)}/s   (x${(rate / rates[0]!).toFixed(2)} vs 1 process)`,
    );
    for (const w of workers) w.kill('SIGTERM');
    api.child.kill('SIGTERM');
    sink.server.close();
    sink.server.closeAllConnections();
  }
}
