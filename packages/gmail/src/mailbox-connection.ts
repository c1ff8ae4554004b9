import { createGmailClient, type GmailClient } from './gmail-client';
import {
  delegatedAccessToken,
  exchangeAuthorizationCode,
  GMAIL_MODIFY_SCOPE,
  TokenRevokedError,
  type OAuthClientConfig,
  type ServiceAccountKey,
} from './google-oauth';
import { normalizeAddress, type Mailbox, type MailboxStore } from './mailbox-store';
import type { AccessTokenSource } from './access-tokens';
import { gmailClientForMailbox } from './gmail-client';
import { labelFilterProblem } from './sync-policy';

/** Connecting and disconnecting a mailbox (the gmail:connect CLI). */
export interface WatchSettings {
  gmailBaseUrl: string;
  /** projects/<project>/topics/<topic>, the topic Gmail publishes to. */
  topicName: string;
  /** Only changes to these labels notify (e.g. INBOX); empty = every change. */
  labelIds: string[];
}

/** A connected mailbox; `resumed`: it was known before, its sync goes on from its stored history id. */
export type ConnectedMailbox = Mailbox & { resumed: boolean };

async function watchAndStore(
  client: GmailClient,
  address: string,
  settings: WatchSettings,
  mailboxes: MailboxStore,
  credential: { auth: 'oauth'; refreshToken: string } | { auth: 'service_account' },
  labelErrors: boolean,
): Promise<ConnectedMailbox> {
  // The token must be for the mailbox named on the command line, not whichever account clicked "Allow".
  const profile = await client.getProfile();
  if (normalizeAddress(profile.emailAddress) !== normalizeAddress(address)) {
    throw new Error(`the consent was given for ${profile.emailAddress}, not ${address}: sign in to the right account and try again`);
  }
  // Label ids only: a label name would make every sync fail (Gmail answers it like an expired history id).
  for (const labelId of settings.labelIds) {
    const problem = await labelFilterProblem(client, labelId);
    if (problem) throw new Error(problem);
  }
  const watch = await client.watch({ topicName: settings.topicName, labelIds: settings.labelIds });
  // A reconnect keeps the stored history id: what arrived while the mailbox was disconnected is read next.
  return mailboxes.connect({
    address,
    ...credential,
    historyId: watch.historyId,
    watchExpiresAt: Number(watch.expiration),
    labelErrors,
  });
}

/**
 * Consent code → refresh token (stored encrypted) → users.watch → the mailbox, syncing from the
 * watch's history id (first connection) or from where it stood (reconnection).
 */
export async function connectOAuthMailbox(options: {
  address: string;
  code: string;
  redirectUri: string;
  oauth: OAuthClientConfig;
  watch: WatchSettings;
  mailboxes: MailboxStore;
}): Promise<ConnectedMailbox> {
  const tokens = await exchangeAuthorizationCode(options.oauth, options.code, options.redirectUri);
  if (!tokens.refreshToken) {
    throw new Error('Google returned no refresh token (the consent URL must carry access_type=offline and prompt=consent)');
  }
  // The consent screen lets the user untick a scope: label errors only when gmail.modify was really granted.
  const labelErrors = (tokens.scope ?? '').split(/\s+/).includes(GMAIL_MODIFY_SCOPE);
  const client = createGmailClient({ baseUrl: options.watch.gmailBaseUrl, token: { get: async () => tokens.token, invalidate: () => {} } });
  return watchAndStore(
    client,
    options.address,
    options.watch,
    options.mailboxes,
    { auth: 'oauth', refreshToken: tokens.refreshToken },
    labelErrors,
  );
}

/** Workspace domain-wide delegation: no consent screen, the service account acts as the mailbox. */
export async function connectDelegatedMailbox(options: {
  address: string;
  serviceAccount: { key: ServiceAccountKey; tokenUrl: string };
  watch: WatchSettings;
  mailboxes: MailboxStore;
  /** Act with gmail.modify (must be authorised for the service account in the Admin console) to label unreadable messages. */
  labelErrors?: boolean;
}): Promise<ConnectedMailbox> {
  const token = await delegatedAccessToken({
    ...options.serviceAccount,
    subject: normalizeAddress(options.address),
    ...(options.labelErrors ? { scope: GMAIL_MODIFY_SCOPE } : {}),
  });
  const client = createGmailClient({ baseUrl: options.watch.gmailBaseUrl, token: { get: async () => token.token, invalidate: () => {} } });
  return watchAndStore(
    client,
    options.address,
    options.watch,
    options.mailboxes,
    { auth: 'service_account' },
    options.labelErrors ?? false,
  );
}

/**
 * users.stop, then forget the mailbox (credentials included). A revoked token cannot call stop; the
 * watch then simply lapses within 7 days and its notifications are answered as unknown mailbox.
 */
export async function disconnectMailbox(options: {
  address: string;
  tokens: AccessTokenSource;
  gmailBaseUrl: string;
  mailboxes: MailboxStore;
}): Promise<{ removed: boolean; stopped: boolean; reason?: string }> {
  let stopped = false;
  let reason: string | undefined;
  if (await options.mailboxes.get(options.address)) {
    try {
      await gmailClientForMailbox(options.address, options.tokens, { baseUrl: options.gmailBaseUrl }).stop();
      stopped = true;
    } catch (error) {
      reason = error instanceof TokenRevokedError ? 'token_revoked' : (error as Error).message;
    }
  }
  const removed = await options.mailboxes.remove(options.address);
  return { removed, stopped, ...(reason ? { reason } : {}) };
}
