import { describe, expect, it } from '@jest/globals';
import { isLoopbackPlaceholderUrl, isPlaceholderUrl, normalizeMakeWebhookUrl } from './webhook-url';

describe('normalizeMakeWebhookUrl (docs/original-behaviour.md)', () => {
  it.each([
    ['https://hook.eu2.make.com/abc123', 'https://hook.eu2.make.com/abc123'],
    ['http://example.org/x', 'http://example.org/x'],
    ['  https://x.test/a  ', 'https://x.test/a'],
    ['abc123@hook.eu2.make.com', 'https://hook.eu2.make.com/abc123'],
    [' abc123 @hook.eu2.make.com', 'https://hook.eu2.make.com/abc123'],
    ['abc123', 'https://hook.eu2.make.com/abc123'],
    ['@hook.eu2.make.com', null],
    ['abc@other.host', null],
    ['a/b', null],
    ['a b', null],
    ['ftp://x', null],
    ['HTTPS://X.TEST', null],
    ['', null],
    ['   ', null],
    [null, null],
    [undefined, null],
  ])('%j → %j', (value, expected) => {
    expect(normalizeMakeWebhookUrl(value)).toBe(expected);
  });
});

describe('isPlaceholderUrl (docs/original-behaviour.md)', () => {
  it.each([
    ['', true],
    ['   ', true],
    [null, true],
    ['not a url', true],
    ['https://example.com/hook', true],
    ['https://EXAMPLE.ORG/hook', true],
    ['https://example.net', true],
    ['https://test.com/x', true],
    ['http://localhost:8080/x', true],
    ['http://127.0.0.1/x', true],
    ['https://api.example.com/x', true],
    ['https://a.b.example.net/x', true],
    ['https://example.com./x', true],
    ['https://sub.example.org/x', false],
    ['http://127.0.0.2/x', false],
    ['https://hook.eu2.make.com/abc', false],
    ['https://notexample.com/x', false],
  ])('%j → %s', (url, expected) => {
    expect(isPlaceholderUrl(url)).toBe(expected);
  });

  it.each([
    ['http://localhost:3000/x', true],
    ['http://127.0.0.1/x', true],
    ['https://example.com/x', false],
    ['nope', false],
  ])('isLoopbackPlaceholderUrl(%s) → %s', (url, expected) => {
    expect(isLoopbackPlaceholderUrl(url)).toBe(expected);
  });
});
