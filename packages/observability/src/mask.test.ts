import { describe, expect, it } from '@jest/globals';
import { PassThrough } from 'node:stream';
import { createLogger } from './logger';
import { maskFields, maskSecret, maskText, maskUrl, unmaskUrl } from './mask';

describe('maskUrl', () => {
  it.each([
    ['https://hook.eu2.make.com/abc123token', 'https://hook.eu2.make.com/***'],
    ['http://127.0.0.1:8080/hook?token=x', 'http://127.0.0.1:8080/***'],
    ['not a url', '***'],
    ['', null],
    [undefined, null],
  ])('%s → %s', (input, expected) => expect(maskUrl(input)).toBe(expected));
});

describe('unmaskUrl', () => {
  const stored = ['https://hook.eu2.make.com/first', 'https://other.example.net/second'];
  it.each([
    ['https://hook.eu2.make.com/***', 'https://hook.eu2.make.com/first'],
    ['https://other.example.net/***', 'https://other.example.net/second'],
    ['https://unknown.example.net/***', undefined],
    ['https://hook.eu2.make.com/new', 'https://hook.eu2.make.com/new'],
  ])('%s → %s', (input, expected) => expect(unmaskUrl(input, [null, ...stored])).toBe(expected));
});

describe('maskSecret', () => {
  it.each([
    ['whsec_abcdefghijkl', 'whse***'],
    ['short', '***'],
    ['', null],
  ])('%s → %s', (input, expected) => expect(maskSecret(input)).toBe(expected));
});

describe('maskText', () => {
  it.each([
    ['delivery.succeeded', 'delivery.succeeded'],
    ['email 3f2a9c', 'email 3f2a9c'],
    ['POST https://hook.make.com/secret-path failed', 'POST https://hook.make.com/*** failed'],
    ['HTTPS://HOOK.MAKE.COM/Secret', 'https://hook.make.com/***'],
    ['got Authorization: Bearer abc.def-ghi', 'got Authorization: Bearer ***'],
    ['got bearer abc', 'got bearer ***'],
    ['secret whsec_MfKQ9r8GKYqrTwjU= in text', 'secret whsec_*** in text'],
    ['two: http://a.example/x and https://b.example/y?q=1', 'two: http://a.example/*** and https://b.example/***'],
  ])('%s → %s', (input, expected) => expect(maskText(input)).toBe(expected));
});

describe('maskFields', () => {
  it('masks secret-named keys, URL-named keys and secrets inside any string, deeply, without touching the input', () => {
    const input = {
      email_id: 'abc',
      api_token: 'tok_1234567890',
      webhook_url: 'https://hook.make.com/xyz',
      nested: { message: 'call https://x.example/path failed', list: [{ link: 'https://dl.example/f?sig=1' }] },
      count: 3,
      at: new Date(0),
    };
    const copy = structuredClone(input);
    expect(maskFields(input)).toEqual({
      email_id: 'abc',
      api_token: 'tok_***',
      webhook_url: 'https://hook.make.com/***',
      nested: { message: 'call https://x.example/*** failed', list: [{ link: 'https://dl.example/***' }] },
      count: 3,
      at: new Date(0),
    });
    expect(input).toEqual(copy);
  });
});

describe('createLogger', () => {
  it('writes one JSON line per event with the event name, child fields and masked values', async () => {
    const stream = new PassThrough();
    const lines: string[] = [];
    stream.on('data', (chunk: Buffer) => lines.push(...chunk.toString().split('\n').filter(Boolean)));
    const root = createLogger({ level: 'info', service: 'test', stream });
    const logger = root.child({ email_id: 'e-1' });
    logger.info('delivery.failed', { target: 'https://hook.make.com/secret', response: 'Bearer abc' });
    logger.warn('delivery.retrying', { message: 'POST https://hook.make.com/secret failed' });
    logger.debug('hidden.at_info');
    root.flush();
    await new Promise((r) => setImmediate(r)); // the PassThrough hands the written chunk to its reader
    expect(lines).toHaveLength(2);
    expect(JSON.parse(lines[1]!)).toMatchObject({
      level: 'warn',
      event: 'delivery.retrying',
      message: 'POST https://hook.make.com/*** failed',
    });
    const line = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(line).toMatchObject({
      level: 'info',
      event: 'delivery.failed',
      email_id: 'e-1',
      service: 'test',
      target: 'https://hook.make.com/***',
      response: 'Bearer ***',
    });
    expect(typeof line.timestamp).toBe('string');
  });
});
