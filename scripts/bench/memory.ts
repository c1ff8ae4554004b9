// Memory: RSS of the API and the worker while N emails flow through (completed jobs and logs are trimmed,
// so RSS must level off, not grow with the count).
import { Agent } from 'node:http';
import { emailBody, pipelineEnv, postJson, rssMb, startApi, startSink, startWorker } from './harness';

export async function benchMemory(redisUrl: string, options: { emails: number; samples: number }): Promise<void> {
  console.log(`\n## Memory over ${options.emails} emails (RSS in MB, sampled every ${options.emails / options.samples} emails)`);
  const prefix = `bench-mem-${Date.now()}`;
  let delivered = 0;
  const sink = await startSink(0, () => {
    delivered += 1;
  });
  const env = pipelineEnv(redisUrl, prefix, sink.url, { LOG_LEVEL: 'warn' });
  const api = await startApi(env);
  const worker = await startWorker(env);
  const agent = new Agent({ keepAlive: true, maxSockets: 32 });
  const rows: string[] = [];
  const started = performance.now();
  const every = Math.floor(options.emails / options.samples);
  let pending: Array<Promise<unknown>> = [];
  for (let i = 1; i <= options.emails; i++) {
    pending.push(postJson(agent, api.port, emailBody()).catch(() => undefined));
    if (pending.length >= 64) {
      await Promise.all(pending);
      pending = [];
      // Keep the backlog bounded so the figure is about steady state, not queue growth.
      while (i - delivered > 2_000) await new Promise((r) => setTimeout(r, 20));
    }
    if (i % every === 0)
      rows.push(
        `${String(i).padStart(7)} emails: api ${rssMb(api.child.pid).toFixed(0).padStart(4)} MB   worker ${rssMb(worker.pid).toFixed(0).padStart(4)} MB   delivered ${delivered}`,
      );
  }
  await Promise.all(pending);
  const deadline = Date.now() + 60_000;
  while (delivered < options.emails && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  for (const row of rows) console.log(row);
  console.log(`delivered ${delivered}/${options.emails} in ${((performance.now() - started) / 1000).toFixed(0)} s`);
  agent.destroy();
  worker.kill('SIGTERM');
  api.child.kill('SIGTERM');
  sink.server.close();
  sink.server.closeAllConnections();
}
