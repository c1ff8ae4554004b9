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
  resyncTruncatedAt: undefined,
  syncError: undefined,
  labelErrors: false,
  ...over,
});

describe('gmailHealth', () => {
  it.each([
    ['healthy', {}, []],
    ['needs re-authorisation', { state: 'needs_reauth' as const, lastError: 'invalid_grant' }, ['gmail_needs_reauth']],
    ['renewal failed, watch still valid', { watchFailedAt: NOW - MIN, watchError: '503 backendError' }, ['gmail_watch_renewal_failed']],
    ['watch lapsed', { watchExpiresAt: NOW - 1 }, ['gmail_watch_expired']],
    ['no sync for more than 3 polls', { lastSyncAt: NOW - 10 * MIN }, ['gmail_sync_stale']],
    ['just reconnected, not synced yet', { lastSyncAt: NOW - 60 * MIN, lastConnectAt: NOW - MIN }, []],
    ['resync cut short today', { resyncTruncatedAt: NOW - 60 * MIN }, ['gmail_resync_truncated']],
    ['resync cut short two days ago', { resyncTruncatedAt: NOW - 48 * 60 * MIN }, []],
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

  it('does not call a mailbox stale when push is disabled (nothing syncs it on purpose)', () => {
    expect(gmailHealth(false, [mailbox({ lastSyncAt: NOW - 60 * MIN })], NOW, 9 * MIN).problems).toEqual([]);
  });
});
