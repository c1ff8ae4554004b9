import { describe, expect, it } from '@jest/globals';
import { leadingText, trailingText } from './scan-limit';

describe('scan window', () => {
  it.each([
    ['short text is untouched', 'abc', 5, 'abc', 'abc'],
    ['exact length is untouched', 'abcde', 5, 'abcde', 'abcde'],
    ['longer text is cut', 'abcdefgh', 3, 'abc', 'fgh'],
    // 😀 is one code point, two UTF-16 units: never split it.
    ['a surrogate pair at the cut is dropped whole', 'ab😀cd', 3, 'ab', 'cd'],
    ['a surrogate pair inside the window is kept', 'a😀bc😀', 3, 'a😀', 'c😀'],
  ])('%s', (_name, text, max, head, tail) => {
    expect(leadingText(text, max)).toBe(head);
    expect(trailingText(text, max)).toBe(tail);
  });

  it('never returns more than the limit, however long the text', () => {
    const text = '😀'.repeat(1000) + 'x'.repeat(5 * 1024 * 1024);
    expect(leadingText(text, 256 * 1024).length).toBeLessThanOrEqual(256 * 1024);
    expect(trailingText(text, 256 * 1024)).toBe('x'.repeat(256 * 1024));
  });
});
