import got, { type Method } from 'got';
import { normalizeAddress } from './mailbox-store';
import type { AccessTokenSource } from './access-tokens';

/**
 * The few Gmail REST calls the push ingress needs, over got (no googleapis dependency). Every call
 * is for `users/me`: the access token says which mailbox. A 401 (access token expired or revoked
 * early) refreshes the token once and retries. A rate limit (429, or 403 rateLimitExceeded /
 * userRateLimitExceeded, as Gmail answers either) is waited out as Google asks: `Retry-After` when
 * given, else exponential backoff with jitter, within a bounded total wait. Any other error is a
 * GmailApiError for the caller.
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

/**
 * A rate limit the call did not wait out: its tries or its wait budget ran out. `retryAt` (epoch ms) is
 * when Google's `Retry-After` said to come back, when it asked for longer than the call may wait: the
 * caller delays its job until then instead of retrying sooner.
 */
export class GmailRateLimitError extends GmailApiError {
  constructor(
    status: number,
    reason: string,
    message: string,
    readonly retryAt: number | undefined,
  ) {
    super(status, reason, message);
    this.name = 'GmailRateLimitError';
  }
}

export interface HistoryMessageRef {
  id: string;
  threadId?: string;
  labelIds?: string[];
}

export interface HistoryRecord {
  id: string;
  messagesAdded?: Array<{ message: HistoryMessageRef }>;
  /** The labels added to a message (e.g. INBOX when it leaves spam or a snooze ends). */
  labelsAdded?: Array<{ message: HistoryMessageRef; labelIds?: string[] }>;
}

export interface HistoryPage {
  history?: HistoryRecord[];
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

export interface GmailLabel {
  id: string;
  name: string;
  type?: 'system' | 'user';
}

export interface GmailClient {
  getProfile(): Promise<{ emailAddress: string; historyId: string }>;
  watch(request: { topicName: string; labelIds?: string[] }): Promise<WatchResponse>;
  stop(): Promise<void>;
  /**
   * users.history.list, messageAdded and labelAdded records. A 404 (GmailApiError status 404) means the
   * start id is too old, or the label filter is not a label id of this mailbox.
   */
  listHistory(request: { startHistoryId: string; labelId?: string; pageToken?: string; maxResults?: number }): Promise<HistoryPage>;
  /** users.messages.get?format=raw; null when the message is gone (deleted since the notification). */
  getRawMessage(id: string): Promise<RawMessage | null>;
  listMessages(request: { q?: string; labelIds?: string[]; maxResults?: number; pageToken?: string }): Promise<MessageListPage>;
  /** users.labels.get; null when no label has this id. */
  getLabel(id: string): Promise<GmailLabel | null>;
  listLabels(): Promise<GmailLabel[]>;
  /** users.labels.create (needs gmail.modify or gmail.labels). */
  createLabel(name: string): Promise<GmailLabel>;
  /** users.messages.modify, adding labels (needs gmail.modify). */
  addLabels(messageId: string, labelIds: string[]): Promise<void>;
}

export interface GmailClientOptions {
  /** e.g. https://gmail.googleapis.com (tests: a loopback fake). */
  baseUrl: string;
  token: { get(): Promise<string>; invalidate(): void };
  timeoutMs?: number;
  /** Rate limits: the longest total wait per call before giving up with the GmailApiError (default 40 s, under the sync lock's TTL). */
  maxRateLimitWaitMs?: number;
  /** Rate limits: the most requests per call, however short the waits (`Retry-After: 0` included; default 6). */
  maxRateLimitTries?: number;
  /** First backoff delay when Google gives no Retry-After (default 1 s, doubled each time). */
  rateLimitBaseDelayMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

const DEFAULT_RATE_LIMIT_TRIES = 6;
const RATE_LIMIT_REASONS = new Set(['rateLimitExceeded', 'userRateLimitExceeded', 'RESOURCE_EXHAUSTED']);

/** `Retry-After` as seconds or an HTTP date → ms to wait; undefined when absent or unreadable. */
export function retryAfterMs(header: string | string[] | undefined, now = Date.now()): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) return undefined;
  if (/^\s*\d+(\.\d+)?\s*$/.test(value)) return Math.round(Number(value) * 1000);
  const date = Date.parse(value);
  return Number.isFinite(date) ? Math.max(0, date - now) : undefined;
}

interface GoogleErrorBody {
  error?: { code?: number; message?: string; status?: string; errors?: Array<{ reason?: string; message?: string }> };
}

export function createGmailClient(options: GmailClientOptions): GmailClient {
  const base = `${options.baseUrl.replace(/\/$/, '')}/gmail/v1/users/me`;
  const timeoutMs = options.timeoutMs ?? 30_000;

  const maxWait = options.maxRateLimitWaitMs ?? 40_000;
  const maxTries = options.maxRateLimitTries ?? DEFAULT_RATE_LIMIT_TRIES;
  const baseDelay = options.rateLimitBaseDelayMs ?? 1_000;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  async function call<T>(method: Method, path: string, init: { searchParams?: URLSearchParams; json?: unknown } = {}): Promise<T> {
    let refreshed = false;
    let waited = 0;
    for (let rateLimited = 0; ;) {
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
      if (response.statusCode === 401 && !refreshed) {
        refreshed = true;
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
      const description = `Gmail ${method} ${path.split('?')[0]} answered ${response.statusCode} ${reason}`;
      if (response.statusCode === 429 || (response.statusCode === 403 && RATE_LIMIT_REASONS.has(reason))) {
        const asked = retryAfterMs(response.headers['retry-after']);
        const delay = asked ?? Math.round(baseDelay * 2 ** rateLimited * (0.75 + Math.random() * 0.5));
        // Bounded twice: by time (the sync lock's TTL) and by tries (Retry-After: 0 costs no time).
        if (rateLimited + 1 < maxTries && waited + delay <= maxWait) {
          rateLimited += 1;
          waited += delay;
          await sleep(delay);
          continue;
        }
        const longWait = asked !== undefined && waited + asked > maxWait;
        throw new GmailRateLimitError(response.statusCode, reason, description, longWait ? Date.now() + asked : undefined);
      }
      throw new GmailApiError(response.statusCode, reason, description);
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
        maxResults: String(request.maxResults ?? 100),
      });
      searchParams.append('historyTypes', 'messageAdded');
      searchParams.append('historyTypes', 'labelAdded');
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
    getLabel: async (id) => {
      try {
        return await call<GmailLabel>('GET', `/labels/${encodeURIComponent(id)}`);
      } catch (error) {
        // Gmail answers 404 for an unknown id; some ids that are not ids at all (names with '/') get 400.
        if (error instanceof GmailApiError && (error.status === 404 || error.status === 400)) return null;
        throw error;
      }
    },
    listLabels: async () => (await call<{ labels?: GmailLabel[] }>('GET', '/labels')).labels ?? [],
    createLabel: (name) => call('POST', '/labels', { json: { name, labelListVisibility: 'labelShow', messageListVisibility: 'show' } }),
    addLabels: async (messageId, labelIds) => {
      await call('POST', `/messages/${encodeURIComponent(messageId)}/modify`, { json: { addLabelIds: labelIds } });
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
