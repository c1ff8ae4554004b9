import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { loginOperator } from '../helpers/faults/operator-session';
import { reconcile, settle, summaryLine } from '../helpers/faults/ledger';
import { runLoad } from '../helpers/faults/load';
import { sleep, startFaultStack, waitFor, type FaultStack } from '../helpers/faults/stack';
import { clusterModeAvailable, waitClusterOk } from '../helpers/redis-cluster';
import { startWebhookSink, type WebhookSink } from '../helpers/webhook-sink';

// Skipped, saying so, only where redis-server cannot run in cluster mode.
const unavailable = await clusterModeAvailable();
if (unavailable) console.warn(`SKIPPED: the Redis Cluster pipeline tests need redis-server in cluster mode (${unavailable})`);
const describeCluster = unavailable ? describe.skip : describe;

const OUTAGE_MS = 3_000;
const run = promisify(execFile);
const ROOT = join(new URL('.', import.meta.url).pathname, '../..');

/**
 * The whole pipeline (API + two worker processes, from source) on a local 3-master Redis Cluster
 * (REDIS_CLUSTER_NODES, QUEUE_PREFIX `{fault-…}`), under load, with the master serving the prefix's slot
 * killed and restarted (AOF always): nothing that got a 200 is lost, every key stays in one slot.
 */
describeCluster('Redis Cluster: the pipeline on a local 3-master cluster', () => {
  let sink: WebhookSink;
  let stack: FaultStack;
  beforeAll(async () => {
    sink = await startWebhookSink();
    stack = await startFaultStack({ cluster: true, env: { WEBHOOK_URL: sink.url }, workers: [{}, {}] });
  }, 120_000);
  afterAll(async () => {
    await stack?.close();
    await sink?.close();
  });

  it('delivers every accepted email through a restart of the master that holds the queues', async () => {
    const started = Date.now();
    const load = runLoad({ apiUrl: stack.apiUrl, ratePerSecond: 40, durationMs: 12_000, label: 'cluster' });
    await waitFor(() => sink.received.length >= 40, 30_000, 'deliveries flowing before the restart');
    // Every key of the deployment is on the master of the prefix's slot; the other masters hold none of them.
    for (const node of stack.cluster!.nodes) {
      const probe = new Redis(node.url);
      const keys = await probe.keys(`${stack.prefix}*`);
      await probe.quit();
      if (node === stack.redis) expect(keys.length).toBeGreaterThan(0);
      else expect(keys).toEqual([]);
    }
    await stack.redis.stop('SIGKILL');
    const downAt = Date.now();
    await sleep(Math.max(0, OUTAGE_MS - (Date.now() - downAt)));
    await stack.redis.restart();
    await waitClusterOk(stack.cluster!.nodes);
    const report = await load;

    expect(report.rejected).toEqual([]);
    const expectations = [{ target: sink.url, emailIds: report.accepted, receipts: sink.received }];
    await settle(stack, expectations, 180_000).catch(async (error: unknown) => {
      // What was left, to tell a stuck job from a slow machine.
      const received = new Set(sink.received.map((r) => String(r.json?.email_id)));
      console.log('cluster settle timed out', {
        email: await stack.counts('email'),
        delivery: await stack.counts('delivery'),
        missing: report.accepted.filter((id) => !received.has(id)).length,
        worker_events: stack.workers.map((w) =>
          w.logs.filter((l) => String(l.event).startsWith('redis.') || l.event === 'worker.error').slice(-5),
        ),
      });
      throw error;
    });
    const ledger = await reconcile(stack, expectations);
    console.log(
      summaryLine('cluster: master of the queue slot SIGKILL + restart under load', ledger, Date.now() - started, {
        accepted: report.accepted.length,
        answers_503: report.unavailableAnswers,
        outage: `${OUTAGE_MS / 1000}s`,
        workers_replaced: stack.workers.reduce((n, w) => n + w.logs.filter((l) => l.event === 'worker.replaced').length, 0),
      }),
    );
    for (const proc of [stack.api, ...stack.workers]) expect(proc.child.exitCode).toBeNull();
    expect(ledger.lost).toEqual([]);
    expect(ledger.failedJobs).toEqual([]);
    expect(ledger.delivered).toBe(report.accepted.length);
    expect(report.accepted.length).toBeGreaterThan(100);
    // Deliveries whose completion could not reach Redis before their lock expired: at most those in flight.
    expect(ledger.duplicates).toBeLessThanOrEqual(2 * 50);
    // The outage of that one node, and its end, are in each process's log with the node's address.
    const node = `127.0.0.1:${stack.redis.port}`;
    for (const proc of [stack.api, ...stack.workers]) {
      const events = proc.logs.filter((l) => l.node === node).map((l) => l.event);
      expect(events).toContain('redis.unavailable');
      expect(events.lastIndexOf('redis.recovered')).toBeGreaterThan(events.indexOf('redis.unavailable'));
    }
  }, 300_000);

  it('the operator CLIs and the dashboard login work in cluster mode too', async () => {
    const env = { PATH: process.env.PATH ?? '', ...stack.env };
    const cli = (script: string, args: string[]) =>
      run(process.execPath, ['--import', 'tsx', join(ROOT, `apps/cli/src/${script}.ts`), ...args], { env, cwd: ROOT });
    await cli('config', ['set', 'processing_prefs', JSON.stringify({ exclude_keywords: ['cluster-spam'] })]);
    expect(JSON.parse((await cli('config', ['get', 'processing_prefs'])).stdout)).toMatchObject({ exclude_keywords: ['cluster-spam'] });
    // The API (another process) sees the change, pushed over pub/sub on the cluster.
    const operator = await loginOperator(stack.apiUrl);
    await waitFor(
      async () => {
        const prefs = (await operator.request('GET', '/api/processing_prefs')).json.prefs as { exclude_keywords?: string[] } | undefined;
        return prefs?.exclude_keywords?.[0] === 'cluster-spam';
      },
      10_000,
      'the API seeing the CLI change',
    );
    // The login rate limiter's Lua scripts run on the cluster: a wrong password is a 401, not a 500.
    const wrong = await fetch(`${stack.apiUrl}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ username: 'admin', password: 'not-the-password' }).toString(),
      redirect: 'manual',
    });
    expect(wrong.status).toBeLessThan(500);
    expect((await cli('magic-link', [])).stdout).toMatch(/\/login\/magic\//);
    expect((await cli('replay', ['--all-failed'])).stdout).toMatch(/replayed 0 job\(s\) from queue delivery/);
  }, 90_000);
});
