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

interface FakeMailbox {
  address: string;
  historyId: number;
  /** history.list with a startHistoryId below this answers 404 (Gmail keeps about a week). */
  oldestHistoryId: number;
  messages: FakeMessage[];
  history: Array<{ id: string; messagesAdded: Array<{ message: { id: string; threadId: string; labelIds: string[] } }> }>;
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
    unauthorized: number;
  };
  addMailbox(address: string): void;
  /** An authorization code the consent screen would hand out for this mailbox. */
  issueCode(address: string): string;
  /** A new message in the mailbox: a history record with messageAdded, the history id moves on. */
  deliver(address: string, mail: { subject: string; from?: string; html?: string; text?: string; labelIds?: string[] }): FakeMessage;
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
  const accessTokens = new Map<string, { address: string; expired: boolean }>();
  const refreshTokens = new Map<string, { address: string; revoked: boolean }>();
  const codes = new Map<string, string>();
  const calls: FakeGoogle['calls'] = { watch: [], stop: [], token: [], history: [], messagesList: [], messagesGet: [], unauthorized: 0 };

  const mailboxOf = (address: string) => {
    const mailbox = mailboxes.get(address.toLowerCase());
    if (!mailbox) throw new Error(`fake google: no mailbox ${address}`);
    return mailbox;
  };
  const issueAccessToken = (address: string) => {
    const token = `ya29.${randomBytes(16).toString('base64url')}`;
    accessTokens.set(token, { address, expired: false });
    return token;
  };

  async function handleToken(req: IncomingMessage, res: ServerResponse) {
    const form = new URLSearchParams(await readBody(req));
    const grant = form.get('grant_type') ?? '';
    calls.token.push({ grant_type: grant });
    if (grant === 'urn:ietf:params:oauth:grant-type:jwt-bearer') {
      // RFC 7523: the assertion is signed by the service account, aud = this endpoint, sub = the mailbox.
      try {
        const { payload } = await jwtVerify(form.get('assertion') ?? '', delegation.publicKey, {
          issuer: serviceAccountEmail,
          audience: `${url}/token`,
        });
        const address = String(payload.sub).toLowerCase();
        if (payload.scope !== 'https://www.googleapis.com/auth/gmail.readonly' || !mailboxes.has(address)) throw new Error('not delegated');
        return send(res, 200, { access_token: issueAccessToken(address), expires_in: 3599, token_type: 'Bearer' });
      } catch {
        return send(res, 400, { error: 'invalid_grant', error_description: 'Invalid JWT Signature.' });
      }
    }
    if (form.get('client_id') !== 'test-client-id' || form.get('client_secret') !== 'test-client-secret') {
      return send(res, 401, { error: 'invalid_client', error_description: 'The OAuth client was not found.' });
    }
    if (grant === 'authorization_code') {
      const address = codes.get(form.get('code') ?? '');
      if (!address) return send(res, 400, { error: 'invalid_grant', error_description: 'Malformed auth code.' });
      codes.delete(form.get('code')!);
      const refreshToken = `1//${randomBytes(24).toString('base64url')}`;
      refreshTokens.set(refreshToken, { address, revoked: false });
      return send(res, 200, {
        access_token: issueAccessToken(address),
        expires_in: 3599,
        refresh_token: refreshToken,
        scope: 'https://www.googleapis.com/auth/gmail.readonly',
        token_type: 'Bearer',
      });
    }
    if (grant === 'refresh_token') {
      const entry = refreshTokens.get(form.get('refresh_token') ?? '');
      if (!entry || entry.revoked)
        return send(res, 400, { error: 'invalid_grant', error_description: 'Token has been expired or revoked.' });
      return send(res, 200, {
        access_token: issueAccessToken(entry.address),
        expires_in: 3599,
        scope: 'https://www.googleapis.com/auth/gmail.readonly',
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
    const mailbox = mailboxOf(access.address);
    const path = url.pathname.replace(/^\/gmail\/v1\/users\/me/, '');
    if (req.method === 'GET' && path === '/profile') {
      return send(res, 200, {
        emailAddress: mailbox.address,
        messagesTotal: mailbox.messages.length,
        threadsTotal: mailbox.messages.length,
        historyId: String(mailbox.historyId),
      });
    }
    if (req.method === 'POST' && path === '/watch') {
      const body = JSON.parse((await readBody(req)) || '{}') as { topicName?: string };
      calls.watch.push({ address: mailbox.address, body });
      if (!body.topicName) return send(res, 400, gmailError(400, 'invalidArgument', 'INVALID_ARGUMENT', 'Invalid topicName'));
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
      if (url.searchParams.get('historyTypes') !== 'messageAdded')
        return send(res, 400, gmailError(400, 'invalidArgument', 'INVALID_ARGUMENT', 'test expects historyTypes=messageAdded'));
      if (!Number.isFinite(start) || start < mailbox.oldestHistoryId)
        return send(res, 404, gmailError(404, 'notFound', 'NOT_FOUND', 'Requested entity was not found.'));
      const label = url.searchParams.get('labelId');
      const maxResults = Number(url.searchParams.get('maxResults') ?? 100);
      const offset = Number(url.searchParams.get('pageToken') ?? 0);
      const records = mailbox.history
        .filter((h) => Number(h.id) > start)
        .filter((h) => !label || h.messagesAdded.some((a) => a.message.labelIds.includes(label)));
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
      const max = Number(url.searchParams.get('maxResults') ?? 100);
      const labels = url.searchParams.getAll('labelIds');
      const newest = [...mailbox.messages].reverse().filter((m) => labels.every((l) => m.labelIds.includes(l)));
      return send(res, 200, {
        messages: newest.slice(0, max).map((m) => ({ id: m.id, threadId: m.threadId })),
        resultSizeEstimate: newest.length,
      });
    }
    const messageId = /^\/messages\/([^/]+)$/.exec(path)?.[1];
    if (req.method === 'GET' && messageId) {
      calls.messagesGet.push(messageId);
      if (url.searchParams.get('format') !== 'raw')
        return send(res, 400, gmailError(400, 'invalidArgument', 'INVALID_ARGUMENT', 'test expects format=raw'));
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
      });
    },
    issueCode(address) {
      const code = `4/${randomBytes(12).toString('base64url')}`;
      codes.set(code, address.toLowerCase());
      return code;
    },
    deliver(address, mail) {
      const mailbox = mailboxOf(address);
      sequence += 1;
      mailbox.historyId += 1 + Math.floor(Math.random() * 3);
      const id = `18f${Date.now().toString(16)}${sequence.toString(16).padStart(4, '0')}`;
      const labelIds = mail.labelIds ?? ['INBOX', 'UNREAD', 'CATEGORY_PERSONAL'];
      const message: FakeMessage = {
        id,
        threadId: id,
        labelIds,
        snippet: (mail.text ?? mail.subject).slice(0, 100),
        historyId: String(mailbox.historyId),
        internalDate: String(Date.now()),
        raw: rawRfc822({
          subject: mail.subject,
          from: mail.from ?? 'Alice Example <alice@example.org>',
          to: mailbox.address,
          messageId: `<${randomUUID()}@mail.example.org>`,
          date: new Date(),
          ...(mail.html !== undefined ? { html: mail.html } : {}),
          ...(mail.text !== undefined ? { text: mail.text } : {}),
        }),
      };
      mailbox.messages.push(message);
      mailbox.history.push({ id: String(mailbox.historyId), messagesAdded: [{ message: { id, threadId: id, labelIds } }] });
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
