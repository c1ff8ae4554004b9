import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { cliEnvSchema, loadEnv } from '@render-signal/config';
import { createSettingsStore } from '@render-signal/config-store';
import { silentLogger } from '@render-signal/observability';
import { createProducer, createRedisConnection, deliveryQueue, type Producer } from '@render-signal/queue';
import { normalizeRules } from '@render-signal/routing';
import { reconcile, settle, summaryLine } from '../helpers/faults/ledger';
import { faultEmail, sendEmail, type SentEmail } from '../helpers/faults/load';
import { loginOperator, type OperatorSession } from '../helpers/faults/operator-session';
import { startFaultStack, type FaultStack } from '../helpers/faults/stack';
import { startWebhookSink, type WebhookSink } from '../helpers/webhook-sink';

/**
 * Fault 8: SSRF with ALLOW_PRIVATE_NETWORK=false. Webhook URLs aimed at loopback, private, link-local or
 * metadata addresses (literal, in another notation, or through a DNS name) are refused when saved; a delivery
 * that targets one anyway is dead-lettered as `blocked_target` before any connection; redirects are never
 * followed. Offload sources are covered where they are fetched: packages/offload/src/source-url.test.ts and
 * offload-direct.test.ts (http, non-allowlisted hosts, loopback/10.x/169.254, redirects), not repeated here.
 */

/** A TCP listener on loopback (IPv4 and IPv6) that only counts connections: TLS or not, nothing may reach it. */
interface Trap {
  port: number;
  connections: number;
  close(): Promise<void>;
}

async function startTrap(): Promise<Trap> {
  const servers: Server[] = [];
  const trap: Trap = {
    port: 0,
    connections: 0,
    close: async () => {
      await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    },
  };
  const listen = (host: string, port: number) =>
    new Promise<number>((resolve, reject) => {
      const server = createServer((socket) => {
        trap.connections += 1;
        socket.destroy();
      });
      server.once('error', reject);
      server.listen(port, host, () => {
        servers.push(server);
        resolve((server.address() as { port: number }).port);
      });
    });
  trap.port = await listen('127.0.0.1', 0);
  await listen('::1', trap.port);
  return trap;
}

/** Targets that must be refused; `%p` is the trap's port where a port matters. */
const BLOCKED_URLS = [
  'http://hooks.render-signal.test/hook', // plain http
  'https://127.0.0.1/hook',
  'https://localhost/hook', // a DNS name that resolves to loopback
  'https://[::1]/hook',
  'https://10.0.0.1/hook',
  'https://172.16.0.1/hook',
  'https://192.168.1.10/hook',
  'https://100.64.0.1/hook', // carrier-grade NAT
  'https://169.254.169.254/latest/meta-data/', // cloud metadata
  'https://[fe80::1]/hook',
  'https://[fd00::1]/hook',
  'https://0.0.0.0/hook',
  'https://2130706433/hook', // 127.0.0.1 in decimal
  'https://0x7f000001/hook', // 127.0.0.1 in hex
  'https://127.1/hook', // 127.0.0.1, short form
  'https://[::ffff:127.0.0.1]/hook', // IPv4-mapped IPv6
  'https://[::ffff:169.254.169.254]/latest/meta-data/',
];

describe('fault 8: SSRF with ALLOW_PRIVATE_NETWORK=false', () => {
  let trap: Trap;
  let stack: FaultStack;
  let operator: OperatorSession;
  let producer: Producer<typeof deliveryQueue>;
  beforeAll(async () => {
    trap = await startTrap();
    stack = await startFaultStack({ env: { ALLOW_PRIVATE_NETWORK: 'false' }, workers: [] });
    operator = await loginOperator(stack.apiUrl);
    producer = createProducer(deliveryQueue, {
      connection: createRedisConnection({ url: stack.redis.url, profile: 'worker', name: 'fault-ssrf-producer', logger: silentLogger }),
      prefix: stack.prefix,
    });
  }, 90_000);
  afterAll(async () => {
    await producer?.close();
    (producer?.queue.opts.connection as { disconnect?: () => void } | undefined)?.disconnect?.();
    await stack?.close();
    await trap?.close();
  });

  it.each(BLOCKED_URLS)('refuses webhook_url %s in the webhook settings with 400', async (url) => {
    const answer = await operator.request('POST', '/api/webhooks/config', { webhook_url: url });
    expect({ status: answer.status, code: answer.json.code }).toEqual({ status: 400, code: 'invalid_config' });
  });

  it.each(BLOCKED_URLS)('refuses webhook_url %s in a routing rule with 400', async (url) => {
    const answer = await operator.request('POST', '/api/routing_rules', {
      rules: [{ name: 'ssrf', conditions: [{ field: 'subject', operator: 'contains', value: 'x' }], actions: { webhook_url: url } }],
    });
    expect({ status: answer.status, code: answer.json.code }).toEqual({ status: 400, code: 'invalid_config' });
  });

  it('dead-letters deliveries to private targets as blocked_target, with no connection reaching them', async () => {
    const started = Date.now();
    const targets = [
      `https://127.0.0.1:${trap.port}/hook`,
      `https://localhost:${trap.port}/hook`, // refused at connect time, by the guarded DNS lookup
      `https://[::1]:${trap.port}/hook`,
      `https://2130706433:${trap.port}/hook`,
      `https://[::ffff:127.0.0.1]:${trap.port}/hook`,
      `http://127.0.0.1:${trap.port}/hook`,
    ];
    // Rules stored while private networking was allowed (an older deployment, a restored export): the
    // stored document still loads, so the delivery-time guard is what stops them.
    const normalized = normalizeRules(
      targets.map((url, i) => ({
        name: `legacy ${i}`,
        conditions: [{ field: 'subject', operator: 'contains', value: `ssrf-rule-${i}` }],
        actions: { webhook_url: url, stop_processing: true },
      })),
      { allowPrivateNetwork: true, refusePlaceholderUrls: false },
    );
    if (!normalized.ok) throw new Error(normalized.message);
    const storeRedis = createRedisConnection({ url: stack.redis.url, profile: 'worker', name: 'fault-ssrf-store', logger: silentLogger });
    const store = createSettingsStore({
      redis: storeRedis,
      subscriber: storeRedis.duplicate(),
      env: loadEnv(cliEnvSchema, { REDIS_URL: stack.redis.url, QUEUE_PREFIX: stack.prefix, ALLOW_PRIVATE_NETWORK: 'true' }),
      logger: silentLogger,
    });
    await store.put('routing_rules', { rules: normalized.rules });
    await store.close();
    storeRedis.disconnect();

    // Through the front door: one email per legacy rule.
    const emails: SentEmail[] = [];
    for (let i = 0; i < targets.length; i++)
      emails.push(await sendEmail(stack.apiUrl, faultEmail('ssrf', i, { subject: `ssrf-rule-${i}` })));
    expect(emails.every((e) => e.status === 200 && e.outcome === 'queued')).toBe(true);
    // Through the back door: delivery jobs added straight to the queue.
    const direct = targets.map((_url, i) => `ssrf-direct-${i}`);
    await producer.addBulk(
      targets.map((url, i) => ({
        name: 'deliver' as const,
        data: {
          email_id: direct[i]!,
          accepted_at: Date.now(),
          webhook_id: `msg_ssrf_direct_${i}`,
          target: { url, origin: 'default' },
          payload: { email_id: direct[i]! },
        },
        opts: { jobId: `msg_ssrf_direct_${i}`, attempts: 3 },
      })),
    );
    await stack.startWorker();

    const expectations = targets.map((url, i) => ({ target: url, emailIds: [emails[i]!.emailId!, direct[i]!], receipts: [] }));
    await settle(stack, expectations, 60_000);
    const ledger = await reconcile(stack, expectations);
    const blockedEvents = stack.workers[0]!.logs.filter(
      (l) => l.event === 'delivery.dead_lettered' && l.failure_reason === 'blocked_target',
    );
    console.log(
      summaryLine('8 SSRF: deliveries to private targets', ledger, Date.now() - started, {
        accepted: emails.length + direct.length,
        trap_connections: trap.connections,
        blocked_events: blockedEvents.length,
      }),
    );
    expect(ledger.lost).toEqual([]);
    expect(ledger.delivered).toBe(0);
    expect(ledger.deadLettered).toHaveLength(targets.length * 2);
    for (const dead of ledger.deadLettered) {
      expect(dead).toMatchObject({ queue: 'delivery', failureReason: 'blocked_target', attemptsMade: 1 }); // permanent: never retried
    }
    expect(blockedEvents).toHaveLength(targets.length * 2);
    expect(trap.connections).toBe(0);
  }, 90_000);
});

describe('fault 8: webhooks never follow redirects', () => {
  let destination: WebhookSink;
  const redirecting: WebhookSink[] = [];
  let stack: FaultStack;
  beforeAll(async () => {
    destination = await startWebhookSink();
    for (const status of [301, 302, 303, 307, 308]) {
      const sink = await startWebhookSink();
      sink.defaultResponse = { status, body: '', headers: { location: destination.url } };
      redirecting.push(sink);
    }
    // Private networking allowed here, so the first hop is reachable and only the redirect is at stake.
    stack = await startFaultStack({ env: { DELIVERY_RETRY_SCHEDULE: '100ms' } });
  }, 90_000);
  afterAll(async () => {
    await stack?.close();
    await Promise.all([destination, ...redirecting].map((s) => s?.close()));
  });

  it('a target answering 3xx gets retried and dead-lettered; the redirect destination sees nothing', async () => {
    const started = Date.now();
    const connection = createRedisConnection({
      url: stack.redis.url,
      profile: 'worker',
      name: 'fault-redirect-producer',
      logger: silentLogger,
    });
    const producer = createProducer(deliveryQueue, { connection, prefix: stack.prefix });
    await producer.addBulk(
      redirecting.map((sink, i) => ({
        name: 'deliver' as const,
        data: {
          email_id: `redirect-${i}`,
          accepted_at: Date.now(),
          webhook_id: `msg_redirect_${i}`,
          target: { url: sink.url, origin: 'default' },
          payload: { email_id: `redirect-${i}` },
        },
        opts: { jobId: `msg_redirect_${i}`, attempts: 2 },
      })),
    );
    await producer.close();
    connection.disconnect();
    const expectations = redirecting.map((sink, i) => ({ target: sink.url, emailIds: [`redirect-${i}`], receipts: sink.received }));
    await settle(stack, expectations, 60_000);
    const ledger = await reconcile(stack, expectations);
    console.log(
      summaryLine('8 SSRF: 301/302/303/307/308 answers', ledger, Date.now() - started, {
        accepted: redirecting.length,
        redirect_attempts: redirecting.reduce((n, s) => n + s.requests.length, 0),
        destination_requests: destination.requests.length,
      }),
    );
    expect(destination.requests).toEqual([]);
    for (const sink of redirecting) expect(sink.requests).toHaveLength(2); // both attempts hit the first hop only
    expect(ledger.delivered).toBe(0);
    expect(ledger.lost).toEqual([]);
    expect(ledger.deadLettered).toHaveLength(redirecting.length);
  }, 90_000);
});
