import { describe, expect, it } from '@jest/globals';
import { deliverWebhookJobSchema, deliveryJobData, emailJobResultSchema } from './jobs';

const fields = {
  email_id: 'e1',
  accepted_at: 1,
  webhook_id: 'msg_1',
  target: {
    url: 'https://hooks.example/a',
    origin: 'default',
    mode: 'json',
    fallback_on_415: true,
    tls_verify: true,
    require_success_flag: false,
  },
  payload: { b: 2, a: 1 },
  subject: 'Hello',
  kind: 'email',
} as const;

describe('deliveryJobData (the one builder of a delivery job)', () => {
  it('takes named fields only, leaves out the optional ones that are absent, and is a valid job', () => {
    const data = deliveryJobData({ ...fields, retry_floor_ms: undefined, first_attempt: undefined });
    expect(Object.keys(data)).toEqual(['email_id', 'accepted_at', 'webhook_id', 'target', 'payload', 'subject', 'kind']);
    expect(deliverWebhookJobSchema.parse(data)).toEqual(data);
  });

  it('drops whatever else a spread source would carry', () => {
    const source = { ...fields, first_attempt: { permanent: false, facts: { failure_reason: 'timeout', duration_ms: 1 } } } as const;
    const { first_attempt: _pending, ...named } = source;
    expect(deliveryJobData({ ...named, retry_floor_ms: 5_000 })).toEqual({ ...fields, retry_floor_ms: 5_000 });
  });
});

describe('deliveryJobData: payload formats', () => {
  it('carries a flat / template format and the extracted values; a standard job stays as before', () => {
    const data = deliveryJobData({
      ...fields,
      payload_format: { format: 'template', template: '{ "a": subject }' },
      extracted: { n: '1' },
    });
    expect(data).toMatchObject({ payload_format: { format: 'template', template: '{ "a": subject }' }, extracted: { n: '1' } });
    expect(deliverWebhookJobSchema.parse(data)).toEqual(data);
    expect(Object.keys(deliveryJobData({ ...fields, payload_format: undefined, extracted: undefined }))).not.toContain('payload_format');
  });
});

describe('emailJobResultSchema', () => {
  it.each([
    [{ deliveries: 0, skipped: 'no_target' }, true],
    [{ deliveries: 2, offloads: 1 }, true],
    [{ deliveries: 1, fast_path: 'handed_over' }, true],
    [{ deliveries: 1, fast_path: 'delivered', delivery: deliveryJobData(fields) }, true],
    [{ deliveries: 1, fast_path: 'sent' }, false],
    [{ fast_path: 'delivered' }, false],
  ])('%j → valid %s', (value, valid) => {
    expect(emailJobResultSchema.safeParse(value).success).toBe(valid);
  });
});
