import { describe, expect, it } from '@jest/globals';
import { replayFilterSchema, targetIdOf, type ReplayFilter } from '@render-signal/contracts';
import { dispatchedEvent, plannedEvent } from './build';
import { summaryFields, summaryHashSchema } from './fold';
import { useTestRedis } from '../../../test/helpers/test-redis';
import { journeyKeys } from './keys';
import { selectDeliveries, walkSelection, type SelectionPage } from './select';

const A = 'https://a.example.org/hook';
const B = 'https://b.example.org/hook';

/** A summary hash as the recorder writes it (fields set, `?` fields only when absent). */
function summaryOf(events: Parameters<typeof summaryFields>[0][]) {
  const hash: Record<string, string> = {};
  for (const event of events)
    for (const [field, value] of summaryFields(event)) {
      if (field.startsWith('?')) hash[field.slice(1)] ??= value;
      else hash[field] = value;
    }
  return summaryHashSchema.parse(hash);
}

const received = { type: 'received' as const, at: 1_000, accepted_at: 1_000, source: 'apps_script' as const, job_id: null };
const planned = plannedEvent({
  detection: { detector: null },
  windowVerdict: undefined,
  matches: [],
  stoppedBy: null,
  links: [],
  targets: [
    { webhookId: 'msg_a', url: A, origin: 'default', priority: 0 },
    { webhookId: 'msg_b', url: B, origin: 'rule:r1', priority: 1 },
  ],
  offloading: 0,
  now: 1_001,
});
const attempt = (webhookId: string, outcome: 'delivered' | 'retrying' | 'failed') => ({
  type: 'attempt' as const,
  at: 1_002,
  webhook_id: webhookId,
  job_id: webhookId,
  attempt: 1,
  max_attempts: 3,
  outcome,
  status_code: outcome === 'delivered' ? 200 : 500,
  duration_ms: 3,
  failure_reason: null,
  response_excerpt: null,
  end_to_end_ms: null,
  redelivery: false,
});

const filter = (f: Partial<ReplayFilter>): ReplayFilter => replayFilterSchema.parse({ status: 'dead_lettered', ...f });
const ids = (emailId: string, summary: ReturnType<typeof summaryOf>, f: Partial<ReplayFilter>) =>
  selectDeliveries(emailId, summary, filter(f)).map((d) => d.webhook_id);

const subject = { ...received, subject: 'Facture Équipe', sender: 'a@b.c' };
// msg_a failed for good; msg_b failed once then was delivered.
const summary = summaryOf([
  subject,
  planned,
  dispatchedEvent({ deliveries: [], now: 1_001 }),
  attempt('msg_a', 'retrying'),
  attempt('msg_a', 'failed'),
  attempt('msg_b', 'retrying'),
  attempt('msg_b', 'delivered'),
]);

const CASES: Array<[string, Partial<ReplayFilter>, string[]]> = [
  ['dead letters', {}, ['msg_a']],
  ['any failed attempt', { status: 'failed_attempts' }, ['msg_a', 'msg_b']],
  ['delivered', { status: 'delivered' }, ['msg_b']],
  ['any', { status: 'any' }, ['msg_a', 'msg_b']],
  ['by target id', { status: 'any', target_id: targetIdOf(B) }, ['msg_b']],
  ['another target', { target_id: targetIdOf(B) }, []],
  ['by rule origin', { status: 'any', origin: 'rule:r1' }, ['msg_b']],
  ['since after arrival', { since: 1_001 }, []],
  ['until before arrival', { until: 999 }, []],
  ['range around it', { since: 1_000, until: 1_000 }, ['msg_a']],
  ['query (accents folded)', { words: ['equipe'] }, ['msg_a']],
  ['query not found', { words: ['devis'] }, []],
];

describe('selectDeliveries', () => {
  it.each(CASES)('%s', (_label, f, expected) => {
    expect(ids('e1', summary, f)).toEqual(expected);
  });

  it('carries the masked target and its id', () => {
    expect(selectDeliveries('e1', summary, filter({}))).toEqual([
      {
        email_id: 'e1',
        webhook_id: 'msg_a',
        target_id: targetIdOf(A),
        target: 'https://a.example.org/***',
        received_at: 1_000,
        subject: 'Facture Équipe',
      },
    ]);
  });

  it('an old journey without target ids is selected by status, never by target', () => {
    const old = summaryHashSchema.parse({ received_at: '1000', subject: 's', 't:msg_x': 'failed' });
    expect(ids('e2', old, {})).toEqual(['msg_x']);
    expect(ids('e2', old, { target_id: targetIdOf(A) })).toEqual([]);
  });

  it('an email not received yet (no summary) selects nothing', () => {
    expect(ids('e3', summaryHashSchema.parse({ 't:msg_x': 'failed' }), {})).toEqual([]);
  });
});

describe('walkSelection (the same match, run in Redis)', () => {
  const ctx = useTestRedis('select');
  const walk = async (f: Partial<ReplayFilter>, mode: 'rows' | 'count', pageSize = 2) => {
    const pages: SelectionPage[] = [];
    const { scanned } = await walkSelection({
      redis: ctx.redis,
      prefix: ctx.prefix,
      filter: filter(f),
      mode,
      sampleSize: 1,
      pageSize,
      onPage: (p) => void pages.push(p),
    });
    return { pages, scanned };
  };

  it.each(CASES)('%s: the rows are those of selectDeliveries, over pages (same arrival ms included)', async (_label, f, expected) => {
    const keys = journeyKeys(ctx.prefix);
    // e1 is the table's email; e0 and e2 arrive in the same millisecond, e3 has no summary left.
    await ctx.redis.del(keys.index);
    for (const id of ['e0', 'e1', 'e2', 'e3']) await ctx.redis.zadd(keys.index, 1_000, id);
    for (const id of ['e0', 'e2']) await ctx.redis.hset(keys.summary(id), { received_at: '1000', subject: 'x', 't:msg_z': 'cancelled' });
    const hash = await ctx.redis.hgetall(keys.summary('e1'));
    if (Object.keys(hash).length === 0) {
      const fields: Record<string, string> = {};
      for (const event of [
        subject,
        planned,
        attempt('msg_a', 'retrying'),
        attempt('msg_a', 'failed'),
        attempt('msg_b', 'retrying'),
        attempt('msg_b', 'delivered'),
      ])
        for (const [field, value] of summaryFields(event)) {
          if (field.startsWith('?')) fields[field.slice(1)] ??= value;
          else fields[field] = value;
        }
      await ctx.redis.hset(keys.summary('e1'), fields);
    }
    const rows = await walk(f, 'rows');
    const inRange = (f.since ?? 0) <= 1_000 && (f.until ?? Infinity) >= 1_000;
    expect(rows.scanned).toBe(inRange ? 4 : 0);
    const e1 = rows.pages.flatMap((p) => p.rows).filter((r) => r.email_id === 'e1');
    const strip = (d: { email_id: string; webhook_id: string; target_id: string; target: string; received_at: number }) => ({
      email_id: d.email_id,
      webhook_id: d.webhook_id,
      target_id: d.target_id,
      target: d.target,
      received_at: d.received_at,
    });
    expect(e1.map(strip)).toEqual(selectDeliveries('e1', summary, filter(f)).map(strip));
    expect(e1.map((r) => r.webhook_id)).toEqual(expected);
    const counted = await walk(f, 'count');
    const total = counted.pages.reduce((sum, p) => sum + p.count, 0);
    const others =
      f.status === 'any' && !f.target_id && !f.origin && !f.words?.length && f.since === undefined && f.until === undefined ? 2 : 0;
    expect(total).toBe(expected.length + others);
    expect(counted.pages.reduce((sum, p) => sum + p.perTarget.reduce((s2, t) => s2 + t.count, 0), 0)).toBe(total);
  });
});
