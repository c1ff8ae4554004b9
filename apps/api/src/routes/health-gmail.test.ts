import { describe, expect, it } from '@jest/globals';
import type { Mailbox } from '@render-signal/gmail';
import { gmailHealth } from './health';

const NOW = Date.parse('2026-06-01T12:00:00Z');
const MIN = 60_000;
const mailbox = (over: Partial<Mailbox>): Mailbox => ({
  address: 'ops@example.org',
  state: 'active',
  auth: 'oauth',
  historyId: '10',
  watchExpiresAt: NOW + 86_400_000,
  connectedAt: NOW - 86_400_000,
  lastConnectAt: NOW - 86_400_000,
  lastSyncAt: NOW - MIN,
  lastError: undefined,
  watchFailedAt: undefined,
  watchError: undefined,
  resyncGap: undefined,
  resyncTruncatedAt: undefined,
  readThroughAt: undefined,
  rateLimitedUntil: undefined,
  grant: 1,
  syncError: undefined,
  labelErrors: false,
  ...over,
});

const gap = (at: number) => ({
  first_at: at,
  last_at: at,
  from: at - 3_600_000,
  to: at - 60_000,
  at_least: 4,
  reasons: ['max_messages' as const],
});

describe('gmailHealth', () => {
  it.each([
    ['healthy', {}, []],
    ['needs re-authorisation', { state: 'needs_reauth' as const, lastError: 'invalid_grant' }, ['gmail_needs_reauth']],
    ['renewal failed, watch still valid', { watchFailedAt: NOW - MIN, watchError: '503 backendError' }, ['gmail_watch_renewal_failed']],
    ['watch lapsed', { watchExpiresAt: NOW - 1 }, ['gmail_watch_expired']],
    ['no sync for more than 3 polls', { lastSyncAt: NOW - 10 * MIN }, ['gmail_sync_stale']],
    ['just reconnected, not synced yet', { lastSyncAt: NOW - 60 * MIN, lastConnectAt: NOW - MIN }, []],
    ['resync cut short today', { resyncGap: gap(NOW - 60 * MIN) }, ['gmail_resync_truncated']],
    // Until an operator acknowledges it, however old.
    ['resync cut short ten days ago', { resyncGap: gap(NOW - 10 * 24 * 60 * MIN) }, ['gmail_resync_truncated']],
    ['Google asked to wait: not stale before that time', { lastSyncAt: NOW - 60 * MIN, rateLimitedUntil: NOW + 30 * MIN }, []],
    ['the wait is over and still no sync', { lastSyncAt: NOW - 60 * MIN, rateLimitedUntil: NOW - 10 * MIN }, ['gmail_sync_stale']],
    ['label filter unusable', { syncError: 'GMAIL_LABEL_FILTER="X" is a label name' }, ['gmail_sync_failing']],
  ])('%s', (_label, over, problems) => {
    const { problems: found } = gmailHealth(true, [mailbox(over)], NOW, 9 * MIN);
    expect(found).toEqual(problems);
  });

  it('names each finding per mailbox, masked, without secrets', () => {
    const { section } = gmailHealth(
      true,
      [mailbox({ watchFailedAt: NOW - MIN, watchError: '503 backendError', lastSyncAt: NOW - 20 * MIN })],
      NOW,
      9 * MIN,
    );
    expect(section).toMatchObject({ renewal_failed: 1, stale_sync: 1, resync_truncated: 0, sync_failing: 0, stale_after_seconds: 540 });
    expect(section.mailboxes[0]).toMatchObject({
      mailbox: 'o***@example.org',
      renewal_failed: true,
      renewal_error: '503 backendError',
      stale_sync: true,
      resync_truncated: false,
    });
  });

  it('details one problem per mailbox, with the gap it did not read', () => {
    const { details, section } = gmailHealth(
      true,
      [mailbox({ resyncGap: gap(NOW) }), mailbox({ address: 'zed@example.org', lastSyncAt: NOW - 20 * MIN })],
      NOW,
      9 * MIN,
    );
    expect(details).toEqual([
      { mailbox: 'o***@example.org', code: 'gmail_resync_truncated', gap: gap(NOW) },
      { mailbox: 'z***@example.org', code: 'gmail_sync_stale', lastSyncAt: NOW - 20 * MIN },
    ]);
    expect(section.mailboxes[0]?.resync_gap).toEqual({
      from: new Date(NOW - 3_600_000).toISOString(),
      to: new Date(NOW - 60_000).toISOString(),
      at_least: 4,
      reasons: ['max_messages'],
    });
  });

  it('does not call a mailbox stale when push is disabled (nothing syncs it on purpose)', () => {
    expect(gmailHealth(false, [mailbox({ lastSyncAt: NOW - 60 * MIN })], NOW, 9 * MIN).problems).toEqual([]);
  });
});
