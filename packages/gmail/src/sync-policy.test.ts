import { describe, expect, it } from '@jest/globals';
import type { ZodError } from 'zod';
import { z } from 'zod';
import { GmailApiError, GmailRateLimitError, type GmailLabel, type HistoryPage } from './gmail-client';
import { TokenRevokedError } from './google-oauth';
import { mergeResyncGaps, type ResyncGap } from './mailbox-store';
import {
  describeUnreadable,
  historyCandidates,
  importJobId,
  labelFilterProblem,
  messageFetchFailure,
  resyncQuery,
  resyncWindow,
} from './sync-policy';

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

describe('messageFetchFailure', () => {
  const api = (status: number, reason = 'x') => new GmailApiError(status, reason, `answered ${status}`);
  it.each([
    ['400 failedPrecondition', api(400, 'failedPrecondition'), 'message'],
    ['403 forbidden for one message', api(403, 'forbidden'), 'message'],
    ['410 gone', api(410), 'message'],
    ['401 after the refresh', api(401), 'mailbox'],
    ['408 timeout', api(408), 'mailbox'],
    ['429 not waited out', new GmailRateLimitError(429, 'rateLimitExceeded', 'slow', undefined), 'mailbox'],
    ['403 rate limit not waited out', new GmailRateLimitError(403, 'userRateLimitExceeded', 'slow', Date.now()), 'mailbox'],
    ['500', api(500), 'mailbox'],
    ['503', api(503), 'mailbox'],
    ['network', new Error('ECONNRESET'), 'mailbox'],
    ['token refused', new TokenRevokedError('revoked'), 'mailbox'],
  ])('%s → %s', (_name, error, expected) => {
    expect(messageFetchFailure(error)).toBe(expected);
  });
});

describe('resyncWindow', () => {
  const DAY = 86_400_000;
  const now = 100 * DAY;
  const base = { connectedAt: 10 * DAY, readThroughAt: undefined, lastSyncAt: undefined, now, dedupWindowMs: 30 * DAY };
  it.each([
    ['connected inside the window, read recently', { connectedAt: 80 * DAY, readThroughAt: 95 * DAY }, { listFrom: 80 * DAY }],
    ['read recently, connected long ago', { readThroughAt: 95 * DAY }, { listFrom: 70 * DAY }],
    ['last read 40 days ago', { readThroughAt: 60 * DAY }, { listFrom: 70 * DAY, unread: { from: 60 * DAY, to: 70 * DAY } }],
    ['never read through: the last sync', { lastSyncAt: 50 * DAY }, { listFrom: 70 * DAY, unread: { from: 50 * DAY, to: 70 * DAY } }],
    ['never synced: from the connection', {}, { listFrom: 70 * DAY, unread: { from: 10 * DAY, to: 70 * DAY } }],
  ])('%s', (_name, input, expected) => {
    expect(resyncWindow({ ...base, ...input })).toEqual(expected);
  });
  it('queries with both bounds in epoch seconds', () => {
    expect(resyncQuery(1_500, 3_200)).toBe('after:1 before:4');
  });
});

describe('mergeResyncGaps', () => {
  const gap = (over: Partial<ResyncGap>): ResyncGap => ({
    first_at: 10,
    last_at: 10,
    from: 1,
    to: 5,
    at_least: 3,
    reasons: ['max_messages'],
    ...over,
  });
  it.each([
    ['first gap', undefined, gap({}), gap({})],
    [
      'a later cut widens the range and adds the counts',
      gap({}),
      gap({ first_at: 20, last_at: 20, from: 4, to: 9, at_least: 2, reasons: ['dedup_window'] }),
      { first_at: 10, last_at: 20, from: 1, to: 9, at_least: 5, reasons: ['dedup_window', 'max_messages'] },
    ],
  ])('%s', (_name, previous, next, expected) => {
    expect(mergeResyncGaps(previous, next)).toEqual(expected);
  });
});
