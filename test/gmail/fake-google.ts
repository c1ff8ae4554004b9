import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, exportPKCS8, generateKeyPair, jwtVerify, SignJWT, type JWK } from 'jose';

/**
 * A loopback fake of the Google endpoints the Gmail push ingress uses, following Google's documented
 * request and response shapes: Gmail REST (users.getProfile, watch, stop, history.list,
 * messages.list, messages.get?format=raw), the OAuth token endpoint (authorization_code and
 * refresh_token grants, form encoded) and a JWKS endpoint with a key the test signs push tokens with.
 * Error bodies are Google's: `{"error": {"code", "message", "errors": [{reason}], "status"}}` for Gmail,
 * `{"error": "invalid_grant", "error_description"}` (HTTP 400) for the token endpoint.
 */
export interface FakeMessage {
  id: string;
  threadId: string;
  labelIds: string[];
  snippet: string;
  historyId: string;
  internalDate: string;
  raw: string;
}

type MessageRef = { id: string; threadId: string; labelIds: string[] };
interface FakeHistoryRecord {
  id: string;
  messagesAdded?: Array<{ message: MessageRef }>;
  labelsAdded?: Array<{ message: MessageRef; labelIds: string[] }>;
  labelsRemoved?: Array<{ message: MessageRef; labelIds: string[] }>;
}

const SYSTEM_LABELS = ['INBOX', 'SPAM', 'TRASH', 'UNREAD', 'STARRED', 'IMPORTANT', 'SENT', 'DRAFT', 'CATEGORY_PERSONAL', 'SNOOZED'];

interface FakeMailbox {
  address: string;
  historyId: number;
  /** history.list with a startHistoryId below this answers 404 (Gmail keeps about a week). */
  oldestHistoryId: number;
  messages: FakeMessage[];
  history: FakeHistoryRecord[];
  /** User labels (system labels are implicit). */
  labels: Array<{ id: string; name: string }>;
  /** users.watch answers this error until cleared. */
  watchFailure: number | undefined;
  /** Every Gmail call answers this error until cleared (a Google outage for this mailbox). */
  outage: number | undefined;
}

export interface FakeGoogle {
  url: string;
  tokenUrl: string;
  jwksUrl: string;
  /** The JSON key file of a Workspace service account with domain-wide delegation over every fake mailbox. */
  serviceAccountKey: string;
  calls: {
    watch: Array<{ address: string; body: unknown }>;
    stop: string[];
    token: Array<{ grant_type: string }>;
    history: string[];
    messagesList: string[];
    messagesGet: string[];
    modify: Array<{ address: string; id: string; addLabelIds: string[] }>;
    rateLimited: number;
    unauthorized: number;
    heldRefresh: number;
  };
  addMailbox(address: string): void;
  /** An authorization code the consent screen would hand out for this mailbox (`modify`: gmail.modify granted too). */
  issueCode(address: string, options?: { modify?: boolean }): string;
  /** A new message in the mailbox: a history record with messageAdded, the history id moves on. */
  deliver(
    address: string,
    mail: { subject: string; from?: string; to?: string; html?: string; text?: string; labelIds?: string[]; receivedAt?: number },
  ): FakeMessage;
  /** Labels change on a message (spam → inbox, a snooze ending, a label applied later): labelAdded/labelRemoved history. */
  relabel(address: string, messageId: string, change: { add?: string[]; remove?: string[] }): void;
  /** A user label (Gmail gives it an id like Label_12); answers the id. */
  createUserLabel(address: string, name: string): string;
  labelsOf(address: string, messageId: string): string[];
  /** The next `count` Gmail calls (of `address` only, when given) answer 429 (with `Retry-After: retryAfter` seconds when given). */
  rateLimit(count: number, retryAfter?: number, address?: string): void;
  /** messages.get of this one message answers this HTTP error (e.g. 400, 403), or works again with undefined. */
  failMessage(address: string, messageId: string, status: number | undefined): void;
  /** The message is deleted for good (messages.get answers 404); its history records stay. */
  deleteMessage(address: string, messageId: string): void;
  /**
   * refresh_token grants wait until the returned release is called (the consent's authorization_code
   * grant does not): a sync can be caught mid-refresh. `calls.heldRefresh` counts those waiting.
   */
  holdRefresh(): () => void;
  /** users.watch answers this HTTP error (or works again with undefined). */
  failWatch(address: string, status: number | undefined): void;
  /** Every Gmail call for the mailbox answers this HTTP error (or works again with undefined). */
  outage(address: string, status: number | undefined): void;
  /** Gmail may return fewer results than maxResults: list pages hold at most this many (history and messages). */
  capPages(size: number | undefined): void;
  /** The refresh token grant answers this OAuth error (e.g. unauthorized_client) for the mailbox. */
  refuseRefresh(address: string, error: string): void;
  historyId(address: string): string;
  /** Every access token issued so far stops working (401), as when it expired. */
  expireAccessTokens(): void;
  /** The user removed the app's access: the refresh token now gets invalid_grant. */
  revokeRefreshTokens(address: string): void;
  /** history.list from before the current id answers 404 (history too old). */
  forgetHistory(address: string): void;
  /** Signs a Pub/Sub push OIDC token with the JWKS key (or `foreignKey` for a forgery). */
  signPushToken(claims: {
    aud: string;
    email: string;
    email_verified?: boolean;
    iss?: string;
    expiresIn?: string | number;
    foreignKey?: boolean;
  }): Promise<string>;
  close(): Promise<void>;
}

const gmailError = (code: number, reason: string, status: string, message: string) => ({
  error: { code, message, errors: [{ message, domain: 'global', reason }], status },
});

export function rawRfc822(mail: {
  subject: string;
  from: string;
  to: string;
  messageId: string;
  date: Date;
  html?: string;
  text?: string;
}): string {
  const headers = [
    `From: ${mail.from}`,
    `To: ${mail.to}`,
    'Cc: Carol <carol@example.org>',
    `Subject: ${mail.subject}`,
    `Date: ${mail.date.toUTCString()}`,
    `Message-ID: ${mail.messageId}`,
    'MIME-Version: 1.0',
  ];
  const boundary = `b_${randomBytes(6).toString('hex')}`;
  const parts: string[] = [];
  if (mail.text !== undefined) parts.push(`--${boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n${mail.text}\r\n`);
  if (mail.html !== undefined) {
    parts.push(
      `--${boundary}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n${Buffer.from(mail.html).toString('base64')}\r\n`,
    );
  }
  const body = `${parts.join('')}--${boundary}--\r\n`;
  return Buffer.from(`${headers.join('\r\n')}\r\nContent-Type: multipart/alternative; boundary="${boundary}"\r\n\r\n${body}`).toString(
    'base64url',
  );
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function send(res: ServerResponse, status: number, body?: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8' });
  res.end(body === undefined ? '' : JSON.stringify(body));
}

export async function startFakeGoogle(): Promise<FakeGoogle> {
  const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
  const foreign = await generateKeyPair('RS256');
  const kid = randomBytes(8).toString('hex');
  const delegation = await generateKeyPair('RS256', { extractable: true });
  const serviceAccountEmail = 'delegate@test-project.iam.gserviceaccount.com';
  const serviceAccountKey = JSON.stringify({
    type: 'service_account',
    client_email: serviceAccountEmail,
    private_key: await exportPKCS8(delegation.privateKey),
    private_key_id: 'sa-key-1',
  });
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' };

  const mailboxes = new Map<string, FakeMailbox>();
  const accessTokens = new Map<string, { address: string; expired: boolean; modify: boolean }>();
  const refreshTokens = new Map<string, { address: string; revoked: boolean; modify: boolean }>();
  const refusals = new Map<string, string>();
  const codes = new Map<string, { address: string; modify: boolean }>();
  let rateLimits: { count: number; retryAfter: number | undefined; address?: string } = { count: 0, retryAfter: undefined };
  let pageCap: number | undefined;
  const calls: FakeGoogle['calls'] = {
    watch: [],
    stop: [],
    token: [],
    history: [],
    messagesList: [],
    messagesGet: [],
    modify: [],
    rateLimited: 0,
    unauthorized: 0,
    heldRefresh: 0,
  };
  const messageFailures = new Map<string, number>();
  let refreshGate: Promise<void> | undefined;
  const MODIFY_SCOPE = 'https://www.googleapis.com/auth/gmail.modify';
  const READONLY_SCOPE = 'https://www.googleapis.com/auth/gmail.readonly';

  const mailboxOf = (address: string) => {
    const mailbox = mailboxes.get(address.toLowerCase());
    if (!mailbox) throw new Error(`fake google: no mailbox ${address}`);
    return mailbox;
  };
  const issueAccessToken = (address: string, modify = false) => {
    const token = `ya29.${randomBytes(16).toString('base64url')}`;
    accessTokens.set(token, { address, expired: false, modify });
    return token;
  };
  const scopeOf = (modify: boolean) => (modify ? MODIFY_SCOPE : READONLY_SCOPE);

  let historyStep = 0;
  const nextHistoryId = (mailbox: FakeMailbox) => {
    mailbox.historyId += 1 + (historyStep++ % 3);
    return String(mailbox.historyId);
  };
  function createUserLabel(mailbox: FakeMailbox, name: string): string {
    const existing = mailbox.labels.find((l) => l.name === name);
    if (existing) return existing.id;
    // Label ids are per mailbox in Gmail: each mailbox's first user label is Label_1.
    const id = `Label_${mailbox.labels.length + 1}`;
    mailbox.labels.push({ id, name });
    return id;
  }
  function relabel(mailbox: FakeMailbox, message: FakeMessage, change: { add?: string[]; remove?: string[] }) {
    const add = (change.add ?? []).filter((l) => !message.labelIds.includes(l));
    const remove = (change.remove ?? []).filter((l) => message.labelIds.includes(l));
    message.labelIds = [...message.labelIds.filter((l) => !remove.includes(l)), ...add];
    const ref = () => ({ id: message.id, threadId: message.threadId, labelIds: [...message.labelIds] });
    const id = nextHistoryId(mailbox);
    mailbox.history.push({
      id,
      ...(add.length ? { labelsAdded: [{ message: ref(), labelIds: add }] } : {}),
      ...(remove.length ? { labelsRemoved: [{ message: ref(), labelIds: remove }] } : {}),
    });
  }

  async function handleToken(req: IncomingMessage, res: ServerResponse) {
    const form = new URLSearchParams(await readBody(req));
    const grant = form.get('grant_type') ?? '';
    calls.token.push({ grant_type: grant });
    if (grant === 'refresh_token' && refreshGate) {
      calls.heldRefresh += 1;
      await refreshGate;
    }
    if (grant === 'urn:ietf:params:oauth:grant-type:jwt-bearer') {
      // RFC 7523: the assertion is signed by the service account, aud = this endpoint, sub = the mailbox.
      try {
        const { payload } = await jwtVerify(form.get('assertion') ?? '', delegation.publicKey, {
          issuer: serviceAccountEmail,
          audience: `${url}/token`,
        });
        const address = String(payload.sub).toLowerCase();
        if (![READONLY_SCOPE, MODIFY_SCOPE].includes(String(payload.scope)) || !mailboxes.has(address)) throw new Error('not delegated');
        const refusal = refusals.get(address);
        if (refusal)
          return send(res, 401, {
            error: refusal,
            error_description: 'Client is unauthorized to retrieve access tokens using this method.',
          });
        return send(res, 200, {
          access_token: issueAccessToken(address, payload.scope === MODIFY_SCOPE),
          expires_in: 3599,
          token_type: 'Bearer',
        });
      } catch {
        return send(res, 400, { error: 'invalid_grant', error_description: 'Invalid JWT Signature.' });
      }
    }
    if (form.get('client_id') !== 'test-client-id' || form.get('client_secret') !== 'test-client-secret') {
      return send(res, 401, { error: 'invalid_client', error_description: 'The OAuth client was not found.' });
    }
    if (grant === 'authorization_code') {
      const grant = codes.get(form.get('code') ?? '');
      if (!grant) return send(res, 400, { error: 'invalid_grant', error_description: 'Malformed auth code.' });
      codes.delete(form.get('code')!);
      const refreshToken = `1//${randomBytes(24).toString('base64url')}`;
      refreshTokens.set(refreshToken, { address: grant.address, revoked: false, modify: grant.modify });
      return send(res, 200, {
        access_token: issueAccessToken(grant.address, grant.modify),
        expires_in: 3599,
        refresh_token: refreshToken,
        scope: scopeOf(grant.modify),
        token_type: 'Bearer',
      });
    }
    if (grant === 'refresh_token') {
      const entry = refreshTokens.get(form.get('refresh_token') ?? '');
      if (!entry || entry.revoked)
        return send(res, 400, { error: 'invalid_grant', error_description: 'Token has been expired or revoked.' });
      const refusal = refusals.get(entry.address);
      if (refusal) return send(res, 401, { error: refusal, error_description: 'Unauthorized client or scope in request.' });
      return send(res, 200, {
        access_token: issueAccessToken(entry.address, entry.modify),
        expires_in: 3599,
        scope: scopeOf(entry.modify),
        token_type: 'Bearer',
      });
    }
    return send(res, 400, { error: 'unsupported_grant_type', error_description: `Invalid grant_type: ${grant}` });
  }

  async function handleGmail(req: IncomingMessage, res: ServerResponse, url: URL) {
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
    const access = accessTokens.get(bearer);
    if (!access || access.expired) {
      calls.unauthorized += 1;
      return send(
        res,
        401,
        gmailError(
          401,
          'authError',
          'UNAUTHENTICATED',
          'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.',
        ),
      );
    }
    if (rateLimits.count > 0 && (!rateLimits.address || rateLimits.address === access.address)) {
      rateLimits.count -= 1;
      calls.rateLimited += 1;
      res.writeHead(429, {
        'content-type': 'application/json; charset=UTF-8',
        ...(rateLimits.retryAfter !== undefined ? { 'retry-after': String(rateLimits.retryAfter) } : {}),
      });
      res.end(JSON.stringify(gmailError(429, 'rateLimitExceeded', 'RESOURCE_EXHAUSTED', 'Too many concurrent requests for user.')));
      return;
    }
    const mailbox = mailboxOf(access.address);
    const path = url.pathname.replace(/^\/gmail\/v1\/users\/me/, '');
    if (mailbox.outage)
      return send(res, mailbox.outage, gmailError(mailbox.outage, 'backendError', 'UNAVAILABLE', 'The service is currently unavailable.'));
    const labelExists = (id: string) => SYSTEM_LABELS.includes(id) || mailbox.labels.some((l) => l.id === id);
    if (req.method === 'GET' && path === '/profile') {
      return send(res, 200, {
        emailAddress: mailbox.address,
        messagesTotal: mailbox.messages.length,
        threadsTotal: mailbox.messages.length,
        historyId: String(mailbox.historyId),
      });
    }
    if (req.method === 'POST' && path === '/watch') {
      const body = JSON.parse((await readBody(req)) || '{}') as { topicName?: string; labelIds?: string[] };
      calls.watch.push({ address: mailbox.address, body });
      if (mailbox.watchFailure)
        return send(
          res,
          mailbox.watchFailure,
          gmailError(mailbox.watchFailure, 'backendError', 'UNAVAILABLE', 'The service is currently unavailable.'),
        );
      if (!body.topicName) return send(res, 400, gmailError(400, 'invalidArgument', 'INVALID_ARGUMENT', 'Invalid topicName'));
      if ((body.labelIds ?? []).some((l) => !labelExists(l)))
        return send(res, 400, gmailError(400, 'invalidArgument', 'INVALID_ARGUMENT', 'Invalid label'));
      return send(res, 200, { historyId: String(mailbox.historyId), expiration: String(Date.now() + 7 * 86_400_000) });
    }
    if (req.method === 'POST' && path === '/stop') {
      calls.stop.push(mailbox.address);
      res.writeHead(204).end();
      return;
    }
    if (req.method === 'GET' && path === '/history') {
      const start = Number(url.searchParams.get('startHistoryId'));
      calls.history.push(mailbox.address);
      const types = url.searchParams.getAll('historyTypes');
      if (!types.includes('messageAdded'))
        return send(res, 400, gmailError(400, 'invalidArgument', 'INVALID_ARGUMENT', 'test expects historyTypes=messageAdded'));
      const label = url.searchParams.get('labelId');
      // What Gmail does with a label name (not an id): "Requested entity was not found", like an expired history id.
      if (label && !labelExists(label)) return send(res, 404, gmailError(404, 'notFound', 'NOT_FOUND', 'Requested entity was not found.'));
      if (!Number.isFinite(start) || start < mailbox.oldestHistoryId)
        return send(res, 404, gmailError(404, 'notFound', 'NOT_FOUND', 'Requested entity was not found.'));
      const maxResults = Math.min(pageCap ?? 500, Number(url.searchParams.get('maxResults') ?? 100));
      const offset = Number(url.searchParams.get('pageToken') ?? 0);
      const involves = (r: FakeHistoryRecord) =>
        (r.messagesAdded ?? []).some((a) => a.message.labelIds.includes(label!)) ||
        (r.labelsAdded ?? []).some((a) => a.message.labelIds.includes(label!) || a.labelIds.includes(label!));
      const records = mailbox.history
        .filter((h) => Number(h.id) > start)
        .map((h) => ({
          id: h.id,
          ...(types.includes('messageAdded') && h.messagesAdded ? { messagesAdded: h.messagesAdded } : {}),
          ...(types.includes('labelAdded') && h.labelsAdded ? { labelsAdded: h.labelsAdded } : {}),
          ...(types.includes('labelRemoved') && h.labelsRemoved ? { labelsRemoved: h.labelsRemoved } : {}),
        }))
        .filter((h) => Object.keys(h).length > 1)
        .filter((h) => !label || involves(h));
      const page = records.slice(offset, offset + maxResults);
      const next = offset + maxResults < records.length ? String(offset + maxResults) : undefined;
      return send(res, 200, {
        ...(page.length ? { history: page } : {}),
        ...(next ? { nextPageToken: next } : {}),
        historyId: String(mailbox.historyId),
      });
    }
    if (req.method === 'GET' && path === '/messages') {
      calls.messagesList.push(url.search);
      const max = Math.min(pageCap ?? 500, Number(url.searchParams.get('maxResults') ?? 100));
      const offset = Number(url.searchParams.get('pageToken') ?? 0);
      const labels = url.searchParams.getAll('labelIds');
      if (labels.some((l) => !labelExists(l)))
        return send(res, 400, gmailError(400, 'invalidArgument', 'INVALID_ARGUMENT', 'Invalid label: ' + labels.join(',')));
      // The few search operators the ingress uses: after:<epoch seconds>, newer_than:<n>d.
      const q = url.searchParams.get('q') ?? '';
      const after = /after:(\d+)/.exec(q)?.[1];
      const before = /before:(\d+)/.exec(q)?.[1];
      const newerThanDays = /newer_than:(\d+)d/.exec(q)?.[1];
      // Newest first (ties: the later delivery first), as Gmail lists.
      const newest = [...mailbox.messages]
        .reverse()
        .sort((a, b) => Number(b.internalDate) - Number(a.internalDate))
        .filter((m) => !m.labelIds.includes('SPAM') && !m.labelIds.includes('TRASH'))
        .filter((m) => labels.every((l) => m.labelIds.includes(l)))
        .filter((m) => !after || Number(m.internalDate) > Number(after) * 1000)
        .filter((m) => !before || Number(m.internalDate) < Number(before) * 1000)
        .filter((m) => !newerThanDays || Number(m.internalDate) > Date.now() - Number(newerThanDays) * 86_400_000);
      const page = newest.slice(offset, offset + max);
      return send(res, 200, {
        ...(page.length ? { messages: page.map((m) => ({ id: m.id, threadId: m.threadId })) } : {}),
        ...(offset + max < newest.length ? { nextPageToken: String(offset + max) } : {}),
        resultSizeEstimate: newest.length,
      });
    }
    if (req.method === 'GET' && path === '/labels') {
      return send(res, 200, {
        labels: [...SYSTEM_LABELS.map((id) => ({ id, name: id, type: 'system' })), ...mailbox.labels.map((l) => ({ ...l, type: 'user' }))],
      });
    }
    const labelPath = /^\/labels\/([^/]+)$/.exec(path)?.[1];
    if (req.method === 'GET' && labelPath) {
      const id = decodeURIComponent(labelPath);
      if (SYSTEM_LABELS.includes(id)) return send(res, 200, { id, name: id, type: 'system' });
      const user = mailbox.labels.find((l) => l.id === id);
      if (!user) return send(res, 404, gmailError(404, 'notFound', 'NOT_FOUND', 'Requested entity was not found.'));
      return send(res, 200, { ...user, type: 'user' });
    }
    if (req.method === 'POST' && path === '/labels') {
      if (!access.modify)
        return send(
          res,
          403,
          gmailError(403, 'insufficientPermissions', 'PERMISSION_DENIED', 'Request had insufficient authentication scopes.'),
        );
      const body = JSON.parse((await readBody(req)) || '{}') as { name?: string };
      const id = createUserLabel(mailbox, String(body.name));
      return send(res, 200, { id, name: body.name, type: 'user' });
    }
    const modifyId = /^\/messages\/([^/]+)\/modify$/.exec(path)?.[1];
    if (req.method === 'POST' && modifyId) {
      if (!access.modify)
        return send(
          res,
          403,
          gmailError(403, 'insufficientPermissions', 'PERMISSION_DENIED', 'Request had insufficient authentication scopes.'),
        );
      const body = JSON.parse((await readBody(req)) || '{}') as { addLabelIds?: string[] };
      const message = mailbox.messages.find((m) => m.id === modifyId);
      if (!message) return send(res, 404, gmailError(404, 'notFound', 'NOT_FOUND', 'Requested entity was not found.'));
      calls.modify.push({ address: mailbox.address, id: modifyId, addLabelIds: body.addLabelIds ?? [] });
      relabel(mailbox, message, { add: body.addLabelIds ?? [] });
      return send(res, 200, { id: message.id, threadId: message.threadId, labelIds: message.labelIds });
    }
    const messageId = /^\/messages\/([^/]+)$/.exec(path)?.[1];
    if (req.method === 'GET' && messageId) {
      calls.messagesGet.push(messageId);
      if (url.searchParams.get('format') !== 'raw')
        return send(res, 400, gmailError(400, 'invalidArgument', 'INVALID_ARGUMENT', 'test expects format=raw'));
      const failure = messageFailures.get(`${mailbox.address}/${messageId}`);
      if (failure)
        return send(res, failure, gmailError(failure, 'failedPrecondition', 'FAILED_PRECONDITION', 'Precondition check failed.'));
      const message = mailbox.messages.find((m) => m.id === messageId);
      if (!message) return send(res, 404, gmailError(404, 'notFound', 'NOT_FOUND', 'Requested entity was not found.'));
      return send(res, 200, { ...message, sizeEstimate: message.raw.length });
    }
    return send(res, 404, gmailError(404, 'notFound', 'NOT_FOUND', `fake: no route ${req.method} ${url.pathname}`));
  }

  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://fake');
    const handle = async () => {
      if (req.method === 'POST' && url.pathname === '/token') return handleToken(req, res);
      if (req.method === 'GET' && url.pathname === '/oauth2/v3/certs') return send(res, 200, { keys: [jwk] });
      if (url.pathname.startsWith('/gmail/v1/users/me/')) return handleGmail(req, res, url);
      send(res, 404, { error: 'not found' });
    };
    handle().catch((error: Error) => send(res, 500, { error: error.message }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  let sequence = 0;
  return {
    url,
    tokenUrl: `${url}/token`,
    jwksUrl: `${url}/oauth2/v3/certs`,
    serviceAccountKey,
    calls,
    addMailbox(address) {
      mailboxes.set(address.toLowerCase(), {
        address: address.toLowerCase(),
        historyId: 1_000 + Math.floor(Math.random() * 1_000),
        oldestHistoryId: 1,
        messages: [],
        history: [],
        labels: [],
        watchFailure: undefined,
        outage: undefined,
      });
    },
    issueCode(address, options = {}) {
      const code = `4/${randomBytes(12).toString('base64url')}`;
      codes.set(code, { address: address.toLowerCase(), modify: options.modify ?? false });
      return code;
    },
    relabel(address, messageId, change) {
      const mailbox = mailboxOf(address);
      const message = mailbox.messages.find((m) => m.id === messageId);
      if (!message) throw new Error(`fake google: no message ${messageId}`);
      relabel(mailbox, message, change);
    },
    createUserLabel: (address, name) => createUserLabel(mailboxOf(address), name),
    labelsOf: (address, messageId) => [...(mailboxOf(address).messages.find((m) => m.id === messageId)?.labelIds ?? [])],
    rateLimit(count, retryAfter, address) {
      rateLimits = { count, retryAfter, ...(address ? { address: address.toLowerCase() } : {}) };
    },
    failMessage(address, messageId, status) {
      const key = `${mailboxOf(address).address}/${messageId}`;
      if (status === undefined) messageFailures.delete(key);
      else messageFailures.set(key, status);
    },
    deleteMessage(address, messageId) {
      const mailbox = mailboxOf(address);
      mailbox.messages = mailbox.messages.filter((m) => m.id !== messageId);
    },
    holdRefresh() {
      let release!: () => void;
      refreshGate = new Promise<void>((resolve) => (release = resolve));
      return () => {
        refreshGate = undefined;
        calls.heldRefresh = 0;
        release();
      };
    },
    failWatch(address, status) {
      mailboxOf(address).watchFailure = status;
    },
    outage(address, status) {
      mailboxOf(address).outage = status;
    },
    capPages(size) {
      pageCap = size;
    },
    refuseRefresh(address, error) {
      refusals.set(address.toLowerCase(), error);
    },
    deliver(address, mail) {
      const mailbox = mailboxOf(address);
      sequence += 1;
      nextHistoryId(mailbox);
      const id = `18f${Date.now().toString(16)}${sequence.toString(16).padStart(4, '0')}`;
      const receivedAt = mail.receivedAt ?? Date.now();
      const labelIds = mail.labelIds ?? ['INBOX', 'UNREAD', 'CATEGORY_PERSONAL'];
      const message: FakeMessage = {
        id,
        threadId: id,
        labelIds,
        snippet: (mail.text ?? mail.subject).slice(0, 100),
        historyId: String(mailbox.historyId),
        internalDate: String(receivedAt),
        raw: rawRfc822({
          subject: mail.subject,
          from: mail.from ?? 'Alice Example <alice@example.org>',
          to: mail.to ?? mailbox.address,
          messageId: `<${randomUUID()}@mail.example.org>`,
          date: new Date(receivedAt),
          ...(mail.html !== undefined ? { html: mail.html } : {}),
          ...(mail.text !== undefined ? { text: mail.text } : {}),
        }),
      };
      mailbox.messages.push(message);
      mailbox.history.push({ id: String(mailbox.historyId), messagesAdded: [{ message: { id, threadId: id, labelIds: [...labelIds] } }] });
      return message;
    },
    historyId: (address) => String(mailboxOf(address).historyId),
    expireAccessTokens() {
      for (const entry of accessTokens.values()) entry.expired = true;
    },
    revokeRefreshTokens(address) {
      for (const entry of refreshTokens.values()) if (entry.address === address.toLowerCase()) entry.revoked = true;
    },
    forgetHistory(address) {
      const mailbox = mailboxOf(address);
      mailbox.oldestHistoryId = mailbox.historyId;
    },
    async signPushToken(claims) {
      const key = claims.foreignKey ? foreign.privateKey : privateKey;
      return new SignJWT({ email: claims.email, email_verified: claims.email_verified ?? true })
        .setProtectedHeader({ alg: 'RS256', kid, typ: 'JWT' })
        .setIssuer(claims.iss ?? 'https://accounts.google.com')
        .setAudience(claims.aud)
        .setSubject('112233445566778899000')
        .setIssuedAt()
        .setExpirationTime(claims.expiresIn ?? '1h')
        .sign(key);
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A Pub/Sub push request (wrapped format) carrying a Gmail notification, as the subscription sends it. */
export function pushBody(emailAddress: string, historyId: string | number): Record<string, unknown> {
  return {
    message: {
      data: Buffer.from(JSON.stringify({ emailAddress, historyId: Number(historyId) })).toString('base64'),
      messageId: String(Math.floor(Math.random() * 1e15)),
      publishTime: new Date().toISOString(),
    },
    subscription: 'projects/test-project/subscriptions/gmail-push',
  };
}
