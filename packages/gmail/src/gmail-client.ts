import got, { type Method } from 'got';
import { normalizeAddress } from './mailbox-store';
import type { AccessTokenSource } from './access-tokens';

/**
 * The few Gmail REST calls the push ingress needs, over got (no googleapis dependency). Every call
 * is for `users/me`: the access token says which mailbox. A 401 (access token expired or revoked
 * early) refreshes the token once and retries; any other error is a GmailApiError for the caller.
 */
export class GmailApiError extends Error {
  constructor(
    readonly status: number,
    /** Google's `error.errors[0].reason` or `error.status` (e.g. notFound, rateLimitExceeded). */
    readonly reason: string,
    message: string,
  ) {
    super(message);
    this.name = 'GmailApiError';
  }
}

export interface HistoryMessageRef {
  id: string;
  threadId?: string;
  labelIds?: string[];
}

export interface HistoryPage {
  history?: Array<{ id: string; messagesAdded?: Array<{ message: HistoryMessageRef }> }>;
  nextPageToken?: string;
  /** The mailbox's current history id. */
  historyId: string;
}

export interface RawMessage {
  id: string;
  threadId?: string;
  labelIds?: string[];
  snippet?: string;
  historyId?: string;
  internalDate?: string;
  /** The RFC 822 message, base64url. */
  raw: string;
}

export interface MessageListPage {
  messages?: Array<{ id: string; threadId?: string }>;
  nextPageToken?: string;
}

export interface WatchResponse {
  historyId: string;
  /** Epoch ms, as a string. */
  expiration: string;
}

export interface GmailClient {
  getProfile(): Promise<{ emailAddress: string; historyId: string }>;
  watch(request: { topicName: string; labelIds?: string[] }): Promise<WatchResponse>;
  stop(): Promise<void>;
  /** users.history.list, messageAdded only. A 404 (GmailApiError status 404) means the start id is too old. */
  listHistory(request: { startHistoryId: string; labelId?: string; pageToken?: string; maxResults?: number }): Promise<HistoryPage>;
  /** users.messages.get?format=raw; null when the message is gone (deleted since the notification). */
  getRawMessage(id: string): Promise<RawMessage | null>;
  listMessages(request: { q?: string; labelIds?: string[]; maxResults?: number; pageToken?: string }): Promise<MessageListPage>;
}

export interface GmailClientOptions {
  /** e.g. https://gmail.googleapis.com (tests: a loopback fake). */
  baseUrl: string;
  token: { get(): Promise<string>; invalidate(): void };
  timeoutMs?: number;
}

interface GoogleErrorBody {
  error?: { code?: number; message?: string; status?: string; errors?: Array<{ reason?: string; message?: string }> };
}

export function createGmailClient(options: GmailClientOptions): GmailClient {
  const base = `${options.baseUrl.replace(/\/$/, '')}/gmail/v1/users/me`;
  const timeoutMs = options.timeoutMs ?? 30_000;

  async function call<T>(method: Method, path: string, init: { searchParams?: URLSearchParams; json?: unknown } = {}): Promise<T> {
    for (let attempt = 0; ; attempt += 1) {
      const token = await options.token.get();
      const response = await got(`${base}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
        ...(init.searchParams ? { searchParams: init.searchParams } : {}),
        ...(init.json !== undefined ? { json: init.json } : {}),
        responseType: 'text',
        throwHttpErrors: false,
        // Network blips and 5xx are retried by the job (with backoff), not here.
        retry: { limit: 0 },
        timeout: { request: timeoutMs },
      });
      if (response.statusCode === 401 && attempt === 0) {
        options.token.invalidate();
        continue;
      }
      if (response.statusCode >= 200 && response.statusCode < 300) return (response.body ? JSON.parse(response.body) : {}) as T;
      let body: GoogleErrorBody = {};
      try {
        body = JSON.parse(response.body) as GoogleErrorBody;
      } catch {
        // not JSON: keep the status
      }
      const reason = body.error?.errors?.[0]?.reason ?? body.error?.status ?? 'unknown';
      throw new GmailApiError(
        response.statusCode,
        reason,
        `Gmail ${method} ${path.split('?')[0]} answered ${response.statusCode} ${reason}`,
      );
    }
  }

  return {
    getProfile: () => call('GET', '/profile'),
    watch: (request) =>
      call('POST', '/watch', {
        json: {
          topicName: request.topicName,
          ...(request.labelIds?.length ? { labelIds: request.labelIds, labelFilterBehavior: 'INCLUDE' } : {}),
        },
      }),
    stop: async () => {
      await call('POST', '/stop');
    },
    listHistory: (request) => {
      const searchParams = new URLSearchParams({
        startHistoryId: request.startHistoryId,
        historyTypes: 'messageAdded',
        maxResults: String(request.maxResults ?? 100),
      });
      if (request.labelId) searchParams.set('labelId', request.labelId);
      if (request.pageToken) searchParams.set('pageToken', request.pageToken);
      return call('GET', '/history', { searchParams });
    },
    getRawMessage: async (id) => {
      try {
        return await call<RawMessage>('GET', `/messages/${encodeURIComponent(id)}`, {
          searchParams: new URLSearchParams({ format: 'raw' }),
        });
      } catch (error) {
        if (error instanceof GmailApiError && error.status === 404) return null;
        throw error;
      }
    },
    listMessages: (request) => {
      const searchParams = new URLSearchParams({ maxResults: String(request.maxResults ?? 50) });
      if (request.q) searchParams.set('q', request.q);
      for (const label of request.labelIds ?? []) searchParams.append('labelIds', label);
      if (request.pageToken) searchParams.set('pageToken', request.pageToken);
      return call('GET', '/messages', { searchParams });
    },
  };
}

/** A client acting for one connected mailbox, with its cached access token. */
export function gmailClientForMailbox(
  address: string,
  tokens: AccessTokenSource,
  options: { baseUrl: string; timeoutMs?: number },
): GmailClient {
  const mailbox = normalizeAddress(address);
  return createGmailClient({ ...options, token: { get: () => tokens.get(mailbox), invalidate: () => tokens.invalidate(mailbox) } });
}
