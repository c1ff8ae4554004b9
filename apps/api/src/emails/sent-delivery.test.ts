import { describe, expect, it } from '@jest/globals';
import type { Queue } from 'bullmq';
import { deliveryJobData } from '@render-signal/contracts';
import { sentEvent, type JourneyEvent } from '@render-signal/journeys';
import type { AppDeps } from '../app-deps';
import { sentDeliveries } from './sent-delivery';

const TARGET = {
  url: 'https://hook.example/secret-token',
  origin: 'default',
  mode: 'json' as const,
  fallback_on_415: true,
  tls_verify: true,
  require_success_flag: false,
};
const job = deliveryJobData({
  email_id: 'e1',
  accepted_at: 1,
  webhook_id: 'msg_1',
  target: TARGET,
  payload: { b: 1, a: 2 },
  subject: 'Hello',
  kind: 'email',
});

/** Queues answering getJob from a map (what BullMQ still keeps). */
function deps(kept: { delivery?: Record<string, unknown>; email?: Record<string, unknown> }) {
  const queue = (name: string, jobs: Record<string, unknown> = {}) =>
    ({ name, getJob: async (id: string) => jobs[id] }) as unknown as Queue;
  const delivery = queue('delivery', kept.delivery);
  return {
    queues: [delivery, queue('email', kept.email)],
    journeys: { deliveryProducer: { queue: delivery } },
  } as unknown as Pick<AppDeps, 'journeys' | 'queues'>;
}

const journey = {
  email_id: 'e1',
  received: {
    at: '',
    accepted_at: new Date(1).toISOString(),
    source: 'apps_script' as const,
    subject: 'Hello',
    sender: 's',
    job_id: 'ej1',
  },
};
const target = { webhook_id: 'msg_1', job_ids: ['msg_1'] };

describe('sentDeliveries (the one accessor of what was sent)', () => {
  it('reads the newest kept delivery job first', async () => {
    const sent = await sentDeliveries(deps({ delivery: { msg_1: { data: job } } })).of(target, { events: [], journey });
    expect(sent).toEqual(job);
  });

  it("else the journey's sent event (fast path), rebuilt from named fields", async () => {
    const events: JourneyEvent[] = [sentEvent({ webhookId: 'msg_1', target: TARGET, payload: { b: 1, a: 2 }, now: 5 })];
    const sent = await sentDeliveries(deps({})).of(target, { events, journey });
    expect(sent).toEqual(job);
    expect(JSON.stringify(sent!.payload)).toBe('{"b":1,"a":2}');
  });

  it("else the email job's result (journeys off, or completed before the sent event existed); null when nothing is kept", async () => {
    const email = { ej1: { returnvalue: { deliveries: 1, fast_path: 'delivered', delivery: job } } };
    expect(await sentDeliveries(deps({ email })).of(target, { events: [], journey })).toEqual(job);
    expect(await sentDeliveries(deps({ email })).of({ webhook_id: 'msg_2', job_ids: [] }, { events: [], journey })).toBeNull();
    expect(await sentDeliveries(deps({})).of(target, { events: [], journey })).toBeNull();
  });
});
