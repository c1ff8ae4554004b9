import { describe, expect, it } from '@jest/globals';
import type { ZodError } from 'zod';
import { z } from 'zod';
import type { GmailLabel, HistoryPage } from './gmail-client';
import { describeUnreadable, historyCandidates, importJobId, labelFilterProblem, resyncQuery } from './sync-policy';

const ref = (id: string, labelIds: string[]) => ({ message: { id, threadId: id, labelIds } });

describe('historyCandidates', () => {
  const page: HistoryPage = {
    historyId: '100',
    history: [
      { id: '1', messagesAdded: [ref('a', ['INBOX', 'UNREAD'])] },
      { id: '2', messagesAdded: [ref('spam', ['SPAM'])] },
      { id: '3', messagesAdded: [ref('draft', ['DRAFT'])] },
      { id: '4', messagesAdded: [ref('sent', ['SENT'])] },
      { id: '5', messagesAdded: [ref('self', ['SENT', 'INBOX'])] },
      // "Not spam": INBOX added.
      { id: '6', labelsAdded: [{ ...ref('spam', ['INBOX']), labelIds: ['INBOX'] }] },
      // The same message twice in a page: once.
      { id: '7', labelsAdded: [{ ...ref('a', ['INBOX', 'STARRED']), labelIds: ['STARRED'] }] },
      { id: '8', labelsAdded: [{ ...ref('a', ['INBOX']), labelIds: ['INBOX'] }] },
      // A user label added later.
      { id: '9', labelsAdded: [{ ...ref('late', ['Label_1']), labelIds: ['Label_1'] }] },
      { id: '10', messagesAdded: [ref('archived', ['CATEGORY_PERSONAL'])] },
    ],
  };
  it.each([
    ['INBOX filter', 'INBOX', false, ['a', 'spam']],
    ['INBOX filter, own mail kept', 'INBOX', true, ['a', 'self', 'spam']],
    ['user label filter', 'Label_1', false, ['late']],
    ['no filter: every added message, INBOX additions too', undefined, false, ['a', 'archived', 'spam']],
  ])('%s', (_label, labelId, sendOwnMessages, expected) => {
    expect(historyCandidates(page, { labelId, sendOwnMessages }).sort()).toEqual([...expected].sort());
  });

  it('keeps history order', () => {
    expect(historyCandidates(page, { labelId: 'INBOX' })).toEqual(['a', 'spam']);
  });
});

describe('resync and job ids', () => {
  it('searches after the connection, in epoch seconds', () => {
    expect(resyncQuery(1_767_261_600_999)).toBe('after:1767261600');
  });
  it('one import job id per mailbox and message', () => {
    expect(importJobId('Ops@Example.org', '18f0abc')).toBe('gmail-message.ops@example.org.18f0abc');
  });
});

describe('describeUnreadable', () => {
  it('names the ingress fields that broke the contract', () => {
    const result = z.object({ to: z.string().max(3) }).safeParse({ to: 'abcdef' });
    expect(describeUnreadable(result.error as ZodError)).toMatch(/^does not fit the ingress contract: to /);
  });
  it('says a parse failure is one', () => {
    expect(describeUnreadable(new Error('boom'))).toBe('cannot be parsed: boom');
  });
});

describe('labelFilterProblem', () => {
  const labels: GmailLabel[] = [
    { id: 'INBOX', name: 'INBOX', type: 'system' },
    { id: 'Label_7', name: 'A_TRANSFERER_WEBHOOK', type: 'user' },
  ];
  const client = {
    getLabel: async (id: string) => labels.find((l) => l.id === id) ?? null,
    listLabels: async () => labels,
  };
  it.each([
    ['INBOX', undefined],
    ['Label_7', undefined],
    ['A_TRANSFERER_WEBHOOK', /is a label name; Gmail needs the label id: set GMAIL_LABEL_FILTER=Label_7/],
    ['a_transferer_webhook', /GMAIL_LABEL_FILTER=Label_7/],
    ['Nope', /is not a label id of this mailbox/],
  ])('%s', async (labelId, expected) => {
    const problem = await labelFilterProblem(client, labelId);
    if (expected === undefined) expect(problem).toBeUndefined();
    else expect(problem).toMatch(expected);
  });
});
