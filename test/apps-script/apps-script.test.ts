import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startWebhookSink, type WebhookSink } from '../helpers/webhook-sink';
import { removeRedisDir, startRedisServer, type OwnRedis } from '../helpers/redis-server';
import { startWorld, TEST_TOKEN, waitReady, waitUntil, type World } from '../helpers/world';
import {
  runAppsScript,
  type AppsScriptState,
  type HttpResponse,
  type HttpTransport,
  type MessageData,
  type RunResult,
  type ThreadData,
} from './apps-script-fakes';
import { runAppsScriptInChild } from './run-in-process';

const CODE_PATH = fileURLToPath(new URL('../../scripts/apps-script/Code.gs', import.meta.url));
const CODE = readFileSync(CODE_PATH, 'utf8');
const QUEUE = 'A_TRANSFERER_WEBHOOK';
const ERROR = 'A_TRANSFERER_WEBHOOK/ERREUR';
const ACCOUNT = 'me@example.com';

const uid = () => randomBytes(6).toString('hex');

function message(overrides: Partial<MessageData> = {}): MessageData {
  const id = overrides.id ?? `18f${uid()}`;
  return {
    id,
    subject: `Livraison ${id}`,
    from: 'Dropbox <no-reply@dropbox.com>',
    to: `${ACCOUNT}, team@example.com`,
    cc: 'boss@example.com',
    date: new Date(Date.now() - 60_000).toISOString(),
    html: `<p>Voici le lien : https://www.dropbox.com/scl/fo/${id}/file.zip?dl=0</p>`,
    plain: `Voici le lien : https://www.dropbox.com/scl/fo/${id}/file.zip?dl=0 ${'x'.repeat(300)}`,
    headers: { 'Message-ID': `<${id}@mail.dropbox.com>` },
    unread: true,
    ...overrides,
  };
}

function thread(labels: string[], messages: MessageData[]): ThreadData {
  return { id: `t${uid()}`, labels, messages };
}

function initialState(threads: ThreadData[], properties: Record<string, string>): AppsScriptState {
  return {
    mailbox: { account: ACCOUNT, aliases: ['alias@example.com'], labels: [QUEUE, 'Clients'], threads },
    script: { properties, triggers: [] },
  };
}

const threadById = (state: AppsScriptState, id: string) => {
  const found = state.mailbox.threads.find((t) => t.id === id);
  if (!found) throw new Error(`no thread ${id}`);
  return found;
};

// ---------------------------------------------------------------------------------------------------
// Against the real ingress (API + workers on real Redis), with real HTTP from the script
// ---------------------------------------------------------------------------------------------------

describe('Code.gs against the running ingress', () => {
  let sink: WebhookSink;
  let world: World;
  let props: Record<string, string>;

  beforeAll(async () => {
    sink = await startWebhookSink();
    world = await startWorld({ env: { WEBHOOK_URL: sink.url } });
    props = { INGRESS_URL: `${world.apiUrl}/api/ingress/gmail`, INGRESS_TOKEN: TEST_TOKEN, ALLOW_INSECURE_HTTP: 'true' };
  });
  afterAll(async () => {
    await world.close();
    await sink.close();
  });

  /** Every job of the pipeline finished: what the sink holds now is all it will get. */
  const settled = () =>
    waitUntil(
      async () => {
        const [email, delivery] = await Promise.all([
          world.emailProducer.queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized'),
          world.deliveryProducer.queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized'),
        ]);
        return [...Object.values(email), ...Object.values(delivery)].every((n) => n === 0);
      },
      15_000,
      'pipeline idle',
    );
  const deliveredIds = (ids: string[]) => sink.received.map((r) => String(r.json?.email_id)).filter((id) => ids.includes(id));

  it('delivers each message of the labelled threads once, leaves the rest alone, and a second run sends nothing', async () => {
    const a1 = message();
    const a2 = message({ unread: false, from: 'Dropbox <no-reply@dropbox.com>' });
    const b1 = message({ headers: {} });
    const other = message();
    const threadA = thread([QUEUE, 'Clients'], [a1, a2]);
    const threadB = thread([QUEUE], [b1]);
    const unlabelled = thread(['Clients'], [other]);
    const ids = [a1.id, a2.id, b1.id, other.id];

    const first = await runAppsScriptInChild(CODE_PATH, initialState([threadA, threadB, unlabelled], props), 'processQueue');
    expect(first.error).toBeUndefined();
    expect(first.fetches.map((f) => f.status)).toEqual([200, 200, 200]);
    for (const f of first.fetches) {
      expect(f.method).toBe('POST');
      expect(f.headers).toMatchObject({
        Authorization: `Bearer ${TEST_TOKEN}`,
        'X-Source': 'GoogleAppsScript',
        'Content-Type': 'application/json',
      });
      expect(JSON.parse(f.body ?? '{}')).toMatchObject({ success: true, status: 'queued' });
    }
    const sentA1 = JSON.parse(first.fetches.find((f) => f.payload?.includes(a1.id))?.payload ?? '{}') as Record<string, unknown>;
    expect(sentA1).toEqual({
      subject: a1.subject,
      sender: a1.from,
      date: a1.date,
      body: a1.html,
      snippet: a1.plain.slice(0, 200),
      message_id: a1.id,
      thread_id: threadA.id,
      rfc_message_id: `<${a1.id}@mail.dropbox.com>`,
      to: a1.to,
      cc: a1.cc,
      labels: ['Clients'],
    });
    expect(JSON.parse(first.fetches.find((f) => f.payload?.includes(b1.id))?.payload ?? '{}')).not.toHaveProperty('rfc_message_id');

    await sink.waitFor(3);
    await settled();
    expect(deliveredIds(ids).sort()).toEqual([a1.id, a2.id, b1.id].sort());
    const after = first.state;
    expect(threadById(after, threadA.id).labels).toEqual(['Clients']);
    expect(threadById(after, threadB.id).labels).toEqual([]);
    expect(threadById(after, unlabelled.id).labels).toEqual(['Clients']);
    expect(after.mailbox.labels).toContain(ERROR);
    // Read state is neither used nor changed.
    expect(threadById(after, threadA.id).messages.map((m) => m.unread)).toEqual([true, false]);

    const second = await runAppsScriptInChild(CODE_PATH, after, 'processQueue');
    expect(second.error).toBeUndefined();
    expect(second.fetches).toEqual([]);

    // Someone puts the label back on an already-sent thread: sent again, answered as a duplicate, not delivered again.
    threadById(second.state, threadB.id).labels.push(QUEUE);
    const third = await runAppsScriptInChild(CODE_PATH, second.state, 'processQueue');
    expect(third.fetches.map((f) => [f.status, (JSON.parse(f.body ?? '{}') as { status?: string }).status])).toEqual([
      [200, 'already_processed'],
    ]);
    expect(threadById(third.state, threadB.id).labels).toEqual([]);
    await settled();
    expect(deliveredIds(ids).sort()).toEqual([a1.id, a2.id, b1.id].sort());
  });

  it('sends a reply that arrives in an already-sent thread; the ingress drops the old messages, your own reply is not sent', async () => {
    const original = message();
    const conversation = thread([QUEUE], [original]);
    const first = await runAppsScriptInChild(CODE_PATH, initialState([conversation], props), 'processQueue');
    expect(first.fetches.map((f) => f.status)).toEqual([200]);
    await settled();

    // Your own answer, then their reply: the Gmail filter labels the thread again on the incoming one.
    const ownReply = message({ from: `Me <${ACCOUNT}>`, subject: `Re: ${original.subject}`, unread: false });
    const reply = message({ subject: `Re: ${original.subject}`, date: new Date().toISOString() });
    const relabelled = first.state;
    const t = threadById(relabelled, conversation.id);
    t.messages.push(ownReply, reply);
    t.labels.push(QUEUE);

    const second = await runAppsScriptInChild(CODE_PATH, relabelled, 'processQueue');
    expect(second.error).toBeUndefined();
    const statuses = second.fetches.map((f) => [
      JSON.parse(f.payload ?? '{}').message_id,
      (JSON.parse(f.body ?? '{}') as { status?: string }).status,
    ]);
    expect(statuses).toEqual([
      [original.id, 'already_processed'],
      [reply.id, 'queued'],
    ]);
    await sink.waitFor(1);
    await settled();
    expect(deliveredIds([original.id, reply.id, ownReply.id]).sort()).toEqual([original.id, reply.id].sort());
    expect(threadById(second.state, conversation.id).labels).toEqual([]);
  });
});

describe('Code.gs when the ingress answers 503 (its Redis is down)', () => {
  let redis: OwnRedis;
  let sink: WebhookSink;
  let world: World;

  beforeAll(async () => {
    redis = await startRedisServer({ aof: true });
    sink = await startWebhookSink();
    world = await startWorld({ redisUrl: redis.url, env: { WEBHOOK_URL: sink.url } });
  });
  afterAll(async () => {
    await world.close();
    await sink.close();
    await removeRedisDir(redis);
  });

  it('keeps the label, flags the thread, stops the run, and the next run after recovery delivers', async () => {
    const props = { INGRESS_URL: `${world.apiUrl}/api/ingress/gmail`, INGRESS_TOKEN: TEST_TOKEN, ALLOW_INSECURE_HTTP: 'true' };
    const m1 = message({ date: new Date().toISOString() });
    const m2 = message();
    const newer = thread([QUEUE], [m1]);
    const older = thread([QUEUE], [m2]);

    await redis.stop();
    await waitUntil(() => world.apiRedis.status !== 'ready', 5_000, 'api to notice redis is down');
    const down = await runAppsScriptInChild(CODE_PATH, initialState([newer, older], props), 'processQueue');
    expect(down.error).toBeUndefined();
    // The first answer says the service is down: the run stops instead of spending quota on the rest.
    expect(down.fetches.map((f) => f.status)).toEqual([503]);
    expect(down.returned).toMatchObject({ stopped: 'ingress_unavailable', failed: 1 });
    expect(threadById(down.state, newer.id).labels.sort()).toEqual([QUEUE, ERROR].sort());
    expect(threadById(down.state, older.id).labels).toEqual([QUEUE]);
    expect(sink.requests).toHaveLength(0);

    await redis.restart();
    await Promise.all([waitReady(world.apiRedis, 10_000), waitReady(world.workerRedis, 10_000)]);
    const up = await runAppsScriptInChild(CODE_PATH, down.state, 'processQueue');
    expect(up.error).toBeUndefined();
    expect(up.fetches.map((f) => f.status)).toEqual([200, 200]);
    expect(threadById(up.state, newer.id).labels).toEqual([]);
    expect(threadById(up.state, older.id).labels).toEqual([]);
    await sink.waitFor(2);
    expect(sink.received.map((r) => r.json?.email_id).sort()).toEqual([m1.id, m2.id].sort());
  });
});

// ---------------------------------------------------------------------------------------------------
// Behaviour that needs answers the ingress cannot be made to give on demand: scripted transport
// ---------------------------------------------------------------------------------------------------

const PROPS = { INGRESS_URL: 'https://signal.example.com/api/ingress/gmail', INGRESS_TOKEN: 'token-123456' };
const accepted = (status = 'queued'): HttpResponse => ({
  status: 200,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ success: true, status, email_id: 'x' }),
});
const answer = (status: number, body = '{"success":false}'): HttpResponse => ({ status, headers: {}, body });

/** Answers the given responses in order (an Error = connection failure), then accepts everything. */
function scripted(answers: Array<HttpResponse | Error> = []): HttpTransport {
  const queue = [...answers];
  return () => {
    const next = queue.shift() ?? accepted();
    if (next instanceof Error) throw next;
    return next;
  };
}

function run(state: AppsScriptState, fn = 'processQueue', transport = scripted(), now?: () => number): RunResult {
  return runAppsScript(CODE, state, fn, { transport, now });
}

const sentIds = (result: RunResult) => result.fetches.map((f) => (JSON.parse(f.payload ?? '{}') as { message_id?: string }).message_id);

describe('Code.gs setup()', () => {
  it('creates both labels and installs exactly one 5-minute trigger (the default), however often it runs', () => {
    const state = initialState([], PROPS);
    state.mailbox.labels = [];
    state.script.triggers = [
      { id: 'old-1', handler: 'processQueue', everyMinutes: 5 },
      { id: 'old-2', handler: 'processQueue', everyMinutes: 1 },
      { id: 'mine', handler: 'somethingElse', everyMinutes: 30 },
    ];
    const once = run(state, 'setup');
    expect(once.error).toBeUndefined();
    expect(once.state.mailbox.labels.sort()).toEqual([QUEUE, ERROR].sort());
    const twice = run(once.state, 'setup');
    const ours = twice.state.script.triggers.filter((t) => t.handler === 'processQueue');
    expect(ours).toHaveLength(1);
    // 5 minutes: on a gmail.com account (90 min of trigger runtime a day) idle 1-minute runs would spend a third to half of it.
    expect(ours[0]?.everyMinutes).toBe(5);
    expect(twice.state.script.triggers.map((t) => t.handler).sort()).toEqual(['processQueue', 'somethingElse']);
    const removed = run(twice.state, 'uninstall');
    expect(removed.state.script.triggers.map((t) => t.handler)).toEqual(['somethingElse']);
  });

  it.each([1, 5, 30])('installs the trigger at the configured period (%i min)', (minutes) => {
    const result = run(initialState([], { ...PROPS, TRIGGER_EVERY_MINUTES: String(minutes) }), 'setup');
    expect(result.state.script.triggers.map((t) => t.everyMinutes)).toEqual([minutes]);
  });

  it('uses the configured label names', () => {
    const state = initialState([], { ...PROPS, QUEUE_LABEL: 'To/Signal', ERROR_LABEL: 'To/Signal-failed' });
    const result = run(state, 'setup');
    expect(result.state.mailbox.labels).toEqual(expect.arrayContaining(['To/Signal', 'To/Signal-failed']));
  });

  it.each([
    ['no URL', { INGRESS_TOKEN: 'token-123456' }, /INGRESS_URL and INGRESS_TOKEN/],
    ['no token', { INGRESS_URL: PROPS.INGRESS_URL }, /INGRESS_URL and INGRESS_TOKEN/],
    ['an http:// URL', { ...PROPS, INGRESS_URL: 'http://signal.example.com/api/ingress/gmail' }, /must start with https/],
    ['a trigger period Apps Script does not offer', { ...PROPS, TRIGGER_EVERY_MINUTES: '2' }, /TRIGGER_EVERY_MINUTES must be one of/],
  ])('refuses to install with %s', (_label, properties, message) => {
    const result = run(initialState([], properties), 'setup');
    expect(result.error).toMatch(message);
    expect(result.state.script.triggers).toEqual([]);
  });
});

describe('Code.gs processQueue() decisions', () => {
  it('steps aside when another run holds the script lock', () => {
    const state = initialState([thread([QUEUE], [message()])], PROPS);
    state.script.lockHeldElsewhere = true;
    const result = run(state);
    expect(result.returned).toEqual({ skipped: 'locked' });
    expect(result.fetches).toEqual([]);
    expect(result.state.mailbox.threads[0]?.labels).toEqual([QUEUE]);
  });

  it('releases the lock it took', () => {
    const result = run(initialState([thread([QUEUE], [message()])], PROPS), 'processQueue', scripted([new Error('ECONNREFUSED')]));
    expect(result.lock).toEqual({ acquired: 1, released: 1 });
  });

  it('pages through more threads than one batch in a single run', () => {
    const threads = Array.from({ length: 7 }, () => thread([QUEUE], [message()]));
    const result = run(initialState(threads, { ...PROPS, BATCH_SIZE: '2' }));
    expect(result.fetches).toHaveLength(7);
    expect(result.state.mailbox.threads.every((t) => !t.labels.includes(QUEUE))).toBe(true);
  });

  it('stops starting new sends once the time budget is spent, leaving the rest labelled without an error flag', () => {
    let clock = 1_000_000;
    const transport: HttpTransport = () => {
      clock += 100_000; // each send takes 100 s
      return accepted();
    };
    const threads = Array.from({ length: 5 }, (_, i) =>
      thread([QUEUE], [message({ date: new Date(Date.now() - i * 60_000).toISOString() })]),
    );
    const result = run(initialState(threads, { ...PROPS, TIME_BUDGET_SECONDS: '250' }), 'processQueue', transport, () => clock);
    expect(result.fetches).toHaveLength(3);
    expect(result.returned).toMatchObject({ stopped: 'time_budget' });
    expect(result.state.mailbox.threads.map((t) => t.labels)).toEqual([[], [], [], [QUEUE], [QUEUE]]);
  });

  it.each([
    ['250', 3],
    ['290', 3],
    // Capped at 290 s: a send started at 300 s plus one slow UrlFetch could pass the 6-minute limit.
    ['330', 3],
    ['3600', 3],
  ])('TIME_BUDGET_SECONDS=%s: no send starts after the budget, and the budget is at most 290 s', (budget, sends) => {
    let clock = 1_000_000;
    const transport: HttpTransport = () => {
      clock += 100_000; // each send takes 100 s: they start at 0, 100, 200, 300 s
      return accepted();
    };
    const threads = Array.from({ length: 5 }, (_, i) =>
      thread([QUEUE], [message({ date: new Date(Date.now() - i * 60_000).toISOString() })]),
    );
    const result = run(initialState(threads, { ...PROPS, TIME_BUDGET_SECONDS: budget }), 'processQueue', transport, () => clock);
    expect(result.fetches).toHaveLength(sends);
    expect(result.returned).toMatchObject({ stopped: 'time_budget' });
  });

  it.each([
    ['503', answer(503)],
    ['401 (wrong token)', answer(401)],
    ['404 (wrong URL)', answer(404, '<html>Not found</html>')],
    ['a 200 that is not the ingress answering', answer(200, '<html>Sign in</html>')],
    ['a connection failure', new Error('ECONNREFUSED')],
  ])('after %s: keeps the queue label, flags the thread, and stops the run', (_label, first) => {
    const newer = thread([QUEUE], [message({ date: new Date().toISOString() })]);
    const older = thread([QUEUE], [message()]);
    const result = run(initialState([newer, older], PROPS), 'processQueue', scripted([first]));
    expect(result.fetches).toHaveLength(1);
    expect(threadById(result.state, newer.id).labels.sort()).toEqual([QUEUE, ERROR].sort());
    expect(threadById(result.state, older.id).labels).toEqual([QUEUE]);
  });

  it('after a plain 500 on one thread, keeps it for retry and still sends the other threads', () => {
    const newer = thread([QUEUE], [message({ date: new Date().toISOString() })]);
    const older = thread([QUEUE], [message()]);
    const result = run(initialState([newer, older], PROPS), 'processQueue', scripted([answer(500)]));
    expect(result.fetches).toHaveLength(2);
    expect(threadById(result.state, newer.id).labels.sort()).toEqual([QUEUE, ERROR].sort());
    expect(threadById(result.state, older.id).labels).toEqual([]);
  });

  it.each([400, 413])(
    'parks a thread whose message is refused for good (%i): out of the queue, flagged, the other messages sent',
    (code) => {
      const m1 = message();
      const m2 = message();
      const t = thread([QUEUE], [m1, m2]);
      const result = run(initialState([t], PROPS), 'processQueue', scripted([answer(code)]));
      expect(sentIds(result)).toEqual([m1.id, m2.id]);
      expect(threadById(result.state, t.id).labels).toEqual([ERROR]);
      expect(result.returned).toMatchObject({ parked: 1 });
    },
  );

  it('clears the error flag once the thread goes through', () => {
    const t = thread([QUEUE, ERROR], [message()]);
    const state = initialState([t], PROPS);
    state.mailbox.labels.push(ERROR);
    const result = run(state);
    expect(threadById(result.state, t.id).labels).toEqual([]);
  });

  it.each(['queued', 'already_processing', 'already_processed', 'skipped_sender_not_allowed'])(
    'counts a 200 "%s" as accepted',
    (status) => {
      const t = thread([QUEUE], [message()]);
      const result = run(
        initialState([t], PROPS),
        'processQueue',
        scripted([{ status: 200, headers: {}, body: JSON.stringify({ status }) }]),
      );
      expect(threadById(result.state, t.id).labels).toEqual([]);
    },
  );

  it('skips drafts, trashed messages and your own messages (primary address or alias) unless SEND_OWN_MESSAGES', () => {
    const incoming = message();
    const draft = message({ draft: true });
    const trashed = message({ trashed: true });
    const mine = message({ from: `Me <${ACCOUNT.toUpperCase()}>` });
    const alias = message({ from: 'alias@example.com' });
    const t = thread([QUEUE], [incoming, draft, trashed, mine, alias]);
    expect(sentIds(run(initialState([t], PROPS)))).toEqual([incoming.id]);
    expect(sentIds(run(initialState([t], { ...PROPS, SEND_OWN_MESSAGES: 'true' })))).toEqual([incoming.id, mine.id, alias.id]);
  });

  it('does nothing but warn when the queue label does not exist yet', () => {
    const state = initialState([], PROPS);
    state.mailbox.labels = [];
    const result = run(state);
    expect(result.fetches).toEqual([]);
    expect(result.logs.join('\n')).toMatch(/run setup\(\)/);
  });
});

describe('Code.gs testConnection()', () => {
  it.each([
    [400, true, /OK/],
    [401, false, /WRONG TOKEN/],
    [404, false, /UNEXPECTED: HTTP 404/],
  ])('reads HTTP %i as ok=%s', (code, ok, message) => {
    const result = run(initialState([], PROPS), 'testConnection', scripted([answer(code)]));
    expect(result.returned).toMatchObject({ code, ok });
    expect(result.logs.join('\n')).toMatch(message);
    expect(result.fetches[0]?.payload).toBe('{}');
  });
});
