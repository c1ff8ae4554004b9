import { describe, expect, it } from '@jest/globals';
import { computeEmailId, parseSenderAddress } from './email-id';

describe('parseSenderAddress', () => {
  it.each([
    ['Jane Doe <Jane.Doe@Example.org>', 'jane.doe@example.org'],
    ['"Doe, Jane" <jane@x.io>', 'jane@x.io'],
    ['jane@x.io', 'jane@x.io'],
    ['  JANE@X.IO  ', 'jane@x.io'],
    ['jane@x.io (Jane Doe)', 'jane@x.io'],
    ['<jane@x.io>', 'jane@x.io'],
    ['no address here', 'no address here'],
  ])('%s → %s', (sender, expected) => {
    expect(parseSenderAddress(sender)).toBe(expected);
  });
});

describe('computeEmailId', () => {
  it("matches the original's md5(subject|sender_email|date) (docs/original-behaviour.md example)", () => {
    expect(computeEmailId({ subject: 'b', sender: 'x@y.z', date: '2' })).toBe('69e1bc3c0f79fc60393762b266306c75');
    expect(computeEmailId({ subject: 'b', sender: 'X <X@Y.Z>', date: '2' })).toBe('69e1bc3c0f79fc60393762b266306c75');
  });
  it('uses the Gmail message id when given', () => {
    expect(computeEmailId({ subject: 'b', sender: 'x@y.z', date: '2', message_id: '18c2f0a1b2c3d4e5' })).toBe('18c2f0a1b2c3d4e5');
  });
  it('hashes UTF-8 subjects', () => {
    expect(computeEmailId({ subject: 'Média — été', sender: 'a@b.c', date: '' })).toBe('4839425393201bdd6b5c8b535721e496');
  });
});
