import {
  TokenRevokedError,
  delegatedAccessToken,
  GMAIL_MODIFY_SCOPE,
  refreshAccessToken,
  type AccessToken,
  type OAuthClientConfig,
  type ServiceAccountKey,
} from './google-oauth';
import { normalizeAddress, type MailboxStore } from './mailbox-store';

/**
 * Access tokens per mailbox, cached in this process until shortly before they expire (Google's last
 * an hour), so a sync costs no token request. Concurrent callers share one refresh.
 */
export interface AccessTokenSource {
  get(address: string): Promise<string>;
  /** Forget the cached token (the API answered 401): the next `get` refreshes. */
  invalidate(address: string): void;
}

export interface AccessTokenSourceOptions {
  mailboxes: MailboxStore;
  /** For `oauth` mailboxes. */
  oauth?: OAuthClientConfig;
  /** For `service_account` mailboxes. */
  serviceAccount?: { key: ServiceAccountKey; tokenUrl: string };
  /** Refresh this long before the announced expiry (clock skew, request time). */
  marginMs?: number;
  now?: () => number;
}

export function createAccessTokenSource(options: AccessTokenSourceOptions): AccessTokenSource {
  const cache = new Map<string, AccessToken>();
  const inFlight = new Map<string, Promise<AccessToken>>();
  const margin = options.marginMs ?? 60_000;
  const now = options.now ?? Date.now;

  /** A refusal names the grant whose credential was used, so only that grant is marked needs_reauth. */
  const withGrant = async (grant: number, fetch: () => Promise<AccessToken>) => {
    try {
      return await fetch();
    } catch (error) {
      if (error instanceof TokenRevokedError) error.grant = grant;
      throw error;
    }
  };
  const fetchToken = async (address: string): Promise<AccessToken> => {
    const mailbox = await options.mailboxes.get(address);
    if (!mailbox) throw new Error(`mailbox ${address} is not connected`);
    if (mailbox.auth === 'service_account') {
      const serviceAccount = options.serviceAccount;
      if (!serviceAccount) throw new Error('GMAIL_SERVICE_ACCOUNT_KEY is not set: cannot act for a service_account mailbox');
      return withGrant(mailbox.grant, () =>
        delegatedAccessToken({ ...serviceAccount, subject: address, ...(mailbox.labelErrors ? { scope: GMAIL_MODIFY_SCOPE } : {}) }),
      );
    }
    const oauth = options.oauth;
    if (!oauth) throw new Error('GOOGLE_OAUTH_CLIENT_ID / GOOGLE_OAUTH_CLIENT_SECRET are not set');
    const { refreshToken, grant } = await options.mailboxes.credential(address);
    return withGrant(grant, () => refreshAccessToken(oauth, refreshToken));
  };

  return {
    async get(rawAddress) {
      const address = normalizeAddress(rawAddress);
      const cached = cache.get(address);
      if (cached && cached.expiresAt - margin > now()) return cached.token;
      let pending = inFlight.get(address);
      if (!pending) {
        pending = fetchToken(address).finally(() => inFlight.delete(address));
        inFlight.set(address, pending);
      }
      const fresh = await pending;
      cache.set(address, fresh);
      return fresh.token;
    },
    invalidate(address) {
      cache.delete(normalizeAddress(address));
    },
  };
}
