import { describe, expect, it } from '@jest/globals';
import type { Redis } from 'ioredis';
import { useTestRedis } from '../../../test/helpers/test-redis';
import { attemptEvent, receivedEvent, sentEvent } from './build';
import { sentDeliveries } from './fold';
import { createJourneyRecorder, holdJourneyEvents } from './recorder';
import { createJourneyStore } from './store';
import { journeyKeys } from './keys';

/** Script calls made on `redis` until `stop` (each starts with EVALSHA; EVAL follows only when Redis did not know it). */
function countScriptCalls(redis: Redis): { stop(): number } {
  let calls = 0;
  const original = redis.evalsha.bind(redis);
  redis.evalsha = ((...args: Parameters<typeof redis.evalsha>) => {
    calls += 1;
    return original(...args);
  }) as typeof redis.evalsha;
  return {
    stop() {
      redis.evalsha = original;
      return calls;
    },
  };
}

describe('journey recorder and store (real Redis)', () => {
  const { redis, prefix } = useTestRedis('journeys');

  it('writes events of one turn in one script call, reads them back validated, counts the hour', async () => {
    const recorder = createJourneyRecorder({ redis, prefix: `${prefix}:a`, maxAgeDays: 7, maxEntries: 100 });
    const store = createJourneyStore({ redis, prefix: `${prefix}:a` });
    const scripts = countScriptCalls(redis);
    const now = Date.now();
    await Promise.all([
      recorder.append('e1', receivedEvent({ jobId: 'j1', acceptedAt: now, source: 'apps_script', subject: 'Un', sender: 's', now })),
      recorder.append('e2', receivedEvent({ jobId: 'j2', acceptedAt: now + 1, source: 'gmail_push', subject: 'Deux', sender: 's', now })),
      recorder.append(
        'e1',
        attemptEvent({
          webhookId: 'w',
          jobId: 'w',
          attempt: 1,
          maxAttempts: 1,
          outcome: 'delivered',
          status: 200,
          durationMs: 3,
          endToEndMs: 40,
          now,
        }),
      ),
    ]);
    expect(scripts.stop()).toBe(1);
    const events = await store.events('e1');
    expect(events?.events.map((e) => e.type)).toEqual(['received', 'attempt']);
    expect(events?.invalid).toBe(0);
    const page = await store.search({ words: [] }, { limit: 10 });
    expect(page.emails.map((e) => [e.email_id, e.status])).toEqual([
      ['e2', 'in_progress'],
      ['e1', 'delivered'],
    ]);
    const stats = await store.stats(2);
    expect(stats.hours.at(-1)).toMatchObject({ received: 2, delivered: 1 });
    expect(stats.last_received_at).toBe(new Date(now + 1).toISOString());
    // TTLs: every key expires with the retention.
    const ttl = await redis.ttl(journeyKeys(`${prefix}:a`).events('e1'));
    expect(ttl).toBeGreaterThan(6 * 86_400);
  });

  it("holds a job's events until it ends, then writes them together, in order, in one script call", async () => {
    const recorder = createJourneyRecorder({ redis, prefix: `${prefix}:h`, maxAgeDays: 7, maxEntries: 100 });
    const store = createJourneyStore({ redis, prefix: `${prefix}:h` });
    const held = holdJourneyEvents(recorder);
    const now = Date.now();
    held.record('e1', receivedEvent({ jobId: 'j1', acceptedAt: now, source: 'apps_script', subject: 'Un', sender: 's', now }));
    await new Promise((resolve) => setTimeout(resolve, 50));
    await recorder.flush();
    expect(await store.events('e1')).toBeNull();
    held.record(
      'e1',
      attemptEvent({ webhookId: 'w', jobId: 'w', attempt: 1, maxAttempts: 1, outcome: 'delivered', status: 200, durationMs: 3, now }),
    );
    const scripts = countScriptCalls(redis);
    held.release();
    // After release, events go straight to the recorder.
    held.record('e1', { type: 'cancelled', at: now + 1, jobs: [] });
    await recorder.flush();
    expect(scripts.stop()).toBe(1);
    expect((await store.events('e1'))?.events.map((e) => e.type)).toEqual(['received', 'attempt', 'cancelled']);
  });

  it("holds events no longer than its bound: a slow job's email shows before the job ends", async () => {
    const recorder = createJourneyRecorder({ redis, prefix: `${prefix}:hm`, maxAgeDays: 7, maxEntries: 100 });
    const store = createJourneyStore({ redis, prefix: `${prefix}:hm` });
    const held = holdJourneyEvents(recorder, 30);
    const now = Date.now();
    held.record('e1', receivedEvent({ jobId: 'j1', acceptedAt: now, source: 'apps_script', subject: 'Un', sender: 's', now }));
    await new Promise((resolve) => setTimeout(resolve, 80));
    await recorder.flush();
    expect((await store.events('e1'))?.events.map((e) => e.type)).toEqual(['received']);
    held.record('e1', { type: 'cancelled', at: now + 1, jobs: [] });
    await recorder.flush();
    expect((await store.events('e1'))?.events.map((e) => e.type)).toEqual(['received', 'cancelled']);
    held.release();
  });

  it("stores a fast-path email's line deflated and reads back the exact payload bytes; plain JSON lines still read", async () => {
    const p = `${prefix}:z`;
    const recorder = createJourneyRecorder({ redis, prefix: p, maxAgeDays: 7, maxEntries: 100 });
    const store = createJourneyStore({ redis, prefix: p });
    const body = '<p>Été 📎 « cité » \\ "guillemets" \u2028 https://www.dropbox.com/scl/fo/abc1/file.zip?dl=0</p>'.repeat(5);
    const payload = {
      microsoft_graph_email_id: 'e1',
      subject: 'Sujet',
      bodyPreview: body.slice(0, 200),
      email_content: body,
      n: -1.5,
      z: [null],
    };
    const target = { url: 'https://hook.eu2.make.com/abc', origin: 'default', timeout_ms: 30_000 } as const;
    const now = Date.now();
    const held = holdJourneyEvents(recorder);
    held.record('e1', receivedEvent({ jobId: 'j1', acceptedAt: now, source: 'apps_script', subject: 'Sujet', sender: 's', now }));
    held.record(
      'e1',
      sentEvent({
        webhookId: 'msg_1',
        target: { ...target, mode: 'json', fallback_on_415: true, tls_verify: true, require_success_flag: false },
        payload,
        now,
      }),
    );
    held.release();
    await recorder.flush();
    const [element] = await redis.lrangeBuffer(journeyKeys(p).events('e1'), 0, -1);
    expect(element?.[0]).toBe(0x01);
    expect(element!.length).toBeLessThan(Buffer.byteLength(JSON.stringify(payload)) / 2);
    // A line written by the previous format (plain JSON) next to it.
    await redis.rpush(journeyKeys(p).events('e1'), JSON.stringify({ type: 'cancelled', at: now + 1, jobs: [] }));
    const read = await store.events('e1');
    expect(read?.invalid).toBe(0);
    expect(read?.events.map((e) => e.type)).toEqual(['received', 'sent', 'cancelled']);
    const sent = sentDeliveries(read!.events).get('msg_1');
    expect(Buffer.from(JSON.stringify(sent?.payload), 'utf8').equals(Buffer.from(JSON.stringify(payload), 'utf8'))).toBe(true);
    expect(sent?.target.url).toBe(target.url);
  });

  it('skips a stored line that no longer matches its schema', async () => {
    const store = createJourneyStore({ redis, prefix: `${prefix}:b` });
    await redis.rpush(journeyKeys(`${prefix}:b`).events('e9'), '{"type":"attempt","at":"yesterday"}', 'not json');
    expect(await store.events('e9')).toEqual({ events: [], invalid: 2 });
    // A batch's line holds the email's events as an array: each is checked on its own.
    await redis.rpush(journeyKeys(`${prefix}:b`).events('e9'), JSON.stringify([{ type: 'cancelled', at: 5, jobs: [] }, { type: 'nope' }]));
    expect(await store.events('e9')).toEqual({ events: [{ type: 'cancelled', at: 5, jobs: [] }], invalid: 3 });
    expect(await store.events('unknown')).toBeNull();
  });

  it('keeps the newest maxEntries journeys and drops older-than-retention ones, keys included', async () => {
    const p = `${prefix}:c`;
    const recorder = createJourneyRecorder({ redis, prefix: p, maxAgeDays: 1, maxEntries: 3 });
    const now = Date.now();
    // One too old (2 days), then five recent: the 3 newest stay.
    await recorder.append(
      'old',
      receivedEvent({ jobId: undefined, acceptedAt: now - 2 * 86_400_000, source: undefined, subject: '', sender: '', now }),
    );
    for (let i = 0; i < 5; i++)
      await recorder.append(
        `n${i}`,
        receivedEvent({ jobId: undefined, acceptedAt: now + i, source: undefined, subject: '', sender: '', now }),
      );
    const keys = journeyKeys(p);
    expect(await redis.zrange(keys.index, 0, -1)).toEqual(['n2', 'n3', 'n4']);
    expect(await redis.exists(keys.events('n0'), keys.summary('n0'), keys.events('old'))).toBe(0);
  });

  it('pages with a cursor across equal arrival times', async () => {
    const p = `${prefix}:d`;
    const recorder = createJourneyRecorder({ redis, prefix: p, maxAgeDays: 7, maxEntries: 100 });
    const store = createJourneyStore({ redis, prefix: p });
    const now = Date.now();
    await Promise.all(
      ['a', 'b', 'c', 'd', 'e'].map((id) =>
        recorder.append(id, receivedEvent({ jobId: undefined, acceptedAt: now, source: undefined, subject: '', sender: '', now })),
      ),
    );
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let i = 0; i < 5; i++) {
      const page = await store.search({ words: [] }, { limit: 2, cursor });
      seen.push(...page.emails.map((e) => e.email_id));
      if (!page.next_cursor) break;
      cursor = page.next_cursor;
    }
    expect(seen).toEqual(['e', 'd', 'c', 'b', 'a']);
  });
});
