import { describe, expect, it } from '@jest/globals';
import { attemptEvent, dispatchedEvent, plannedEvent, receivedEvent, sentEvent, skippedEvent } from './build';
import { journeyEventSchema, parseStoredEvent, storedEvent, type JourneyEvent } from './events';

const TARGET = {
  url: 'https://hook.eu2.make.com/abc',
  origin: 'default',
  mode: 'json' as const,
  fallback_on_415: true,
  tls_verify: true,
  require_success_flag: false,
  timeout_ms: 30_000,
};

const events: Array<[string, JourneyEvent]> = [
  ['received', receivedEvent({ jobId: 'j1', acceptedAt: 1, source: 'gmail_push', subject: 'S', sender: 'a@b.c', now: 2 })],
  ['received without job', receivedEvent({ jobId: undefined, acceptedAt: 1, source: 'gmail_push', subject: 'S', sender: 'a@b.c', now: 2 })],
  [
    'planned',
    plannedEvent({
      detection: { detector: null },
      windowVerdict: undefined,
      matches: [],
      stoppedBy: null,
      links: [{ provider: 'dropbox', raw_url: 'https://www.dropbox.com/x' }],
      targets: [{ webhookId: 'msg_1', url: TARGET.url, origin: 'default', priority: 5 }],
      offloading: 0,
      now: 3,
    }),
  ],
  [
    'skipped',
    skippedEvent({
      detection: { detector: 'recadrage', delivery_time: '14h' },
      reason: 'no_target',
      detail: undefined,
      matches: undefined,
      now: 3,
    }),
  ],
  ['dispatched', dispatchedEvent({ deliveries: [{ webhookId: 'msg_1', jobId: 'msg_1', target: TARGET, priority: 5 }], now: 4 })],
  [
    'attempt delivered',
    attemptEvent({
      webhookId: 'msg_1',
      jobId: 'msg_1',
      attempt: 1,
      maxAttempts: 8,
      outcome: 'delivered',
      status: 200,
      durationMs: 9,
      responseExcerpt: 'ok',
      endToEndMs: 20,
      now: 5,
    }),
  ],
  [
    'attempt failed',
    attemptEvent({
      webhookId: 'msg_1',
      jobId: 'j2',
      status: undefined,
      attempt: 2,
      maxAttempts: 2,
      outcome: 'failed',
      durationMs: 9,
      failureReason: 'timeout',
      now: 5,
    }),
  ],
  ['sent', sentEvent({ webhookId: 'msg_1', target: TARGET, payload: { b: 1, a: [2] }, retryFloorMs: 1_000, now: 6 })],
  [
    'sent to a template target',
    sentEvent({
      webhookId: 'msg_1',
      target: TARGET,
      payload: { a: 1 },
      payloadFormat: { format: 'template', template: '{ "n": extracted.n }' },
      extracted: { n: '7' },
      now: 6,
    }),
  ],
  ['sent to a form target', sentEvent({ webhookId: 'msg_1', target: { ...TARGET, mode: 'form', tls_verify: false }, payload: {}, now: 6 })],
];

describe('stored journey events (default-valued fields left out)', () => {
  it.each(events)('%s: read back equal to what was recorded', (_name, event) => {
    const line = JSON.stringify(storedEvent(event));
    expect(parseStoredEvent(JSON.parse(line)).data).toEqual(journeyEventSchema.parse(event));
    expect(line.length).toBeLessThanOrEqual(JSON.stringify(event).length);
  });

  it('leaves out the defaults of a delivered attempt and of a sent target', () => {
    const [, attempt] = events[5]!;
    expect(Object.keys(storedEvent(attempt))).not.toEqual(expect.arrayContaining(['failure_reason']));
    expect(storedEvent(attempt)).not.toHaveProperty('redelivery');
    expect(storedEvent(attempt)).not.toHaveProperty('job_id'); // the fast path's: its webhook id
    expect(storedEvent(events[6]![1])).toHaveProperty('job_id', 'j2');
    const [, sent] = events[7]!;
    expect((storedEvent(sent) as { target: object }).target).toEqual({ url: TARGET.url, origin: 'default', timeout_ms: 30_000 });
  });
});
