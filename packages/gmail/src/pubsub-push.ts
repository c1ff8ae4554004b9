import { createHash, timingSafeEqual } from 'node:crypto';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { z } from 'zod';
import { isHistoryId, normalizeAddress } from './mailbox-store';

/**
 * Cloud Pub/Sub push delivery of a Gmail notification. The wrapped push body is
 * `{"message": {"data": base64(JSON), "messageId": "...", "publishTime": "..."}, "subscription": "..."}`
 * and Gmail's data is `{"emailAddress": "...", "historyId": 1234}`.
 */
const pushBodySchema = z.object({
  message: z.object({
    data: z.string().min(1).max(4_096),
    messageId: z.string().optional(),
    publishTime: z.string().optional(),
  }),
  subscription: z.string().optional(),
});

const notificationSchema = z.object({
  emailAddress: z.string().trim().min(3).max(320).includes('@'),
  historyId: z
    .union([z.string(), z.number().int().positive()])
    .transform((v) => String(v))
    .refine(isHistoryId, 'must be a Gmail history id'),
});

export interface GmailNotification {
  emailAddress: string;
  historyId: string;
  /** Pub/Sub's id of the message (redeliveries keep it). */
  pubsubMessageId: string | undefined;
}

export class PushFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PushFormatError';
  }
}

export function decodeGmailNotification(body: unknown): GmailNotification {
  const push = pushBodySchema.safeParse(body);
  if (!push.success) throw new PushFormatError('not a Pub/Sub push body (wrapped format expected)');
  let data: unknown;
  try {
    data = JSON.parse(Buffer.from(push.data.message.data, 'base64').toString('utf8'));
  } catch {
    throw new PushFormatError('message.data is not base64 JSON');
  }
  const notification = notificationSchema.safeParse(data);
  if (!notification.success) throw new PushFormatError('message.data is not a Gmail notification');
  return {
    emailAddress: normalizeAddress(notification.data.emailAddress),
    historyId: notification.data.historyId,
    pubsubMessageId: push.data.message.messageId,
  };
}

export type PushAuthConfig =
  | {
      mode: 'oidc';
      jwksUrl: string;
      /** Accepted `iss` values (see oidcIssuers). */
      issuer: string | string[];
      /** The audience set on the push subscription. */
      audience: string;
      /** The service account the subscription signs as. */
      serviceAccountEmail: string;
    }
  | { mode: 'token'; token: string };

export type PushVerdict = { ok: true } | { ok: false; reason: string };

export interface PushVerifier {
  verify(request: { authorization: string | undefined; queryToken: string | undefined }): Promise<PushVerdict>;
}

const GOOGLE_ISSUERS = ['https://accounts.google.com', 'accounts.google.com'];

/**
 * Google signs ID tokens with either issuer form, `https://accounts.google.com` or
 * `accounts.google.com`, and its own verification samples accept both: either configured value
 * accepts both. Any other value (a test or private issuer) is taken as is.
 */
export function oidcIssuers(configured: string): string[] {
  return GOOGLE_ISSUERS.includes(configured.replace(/\/$/, '')) ? GOOGLE_ISSUERS : [configured];
}

const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();

/**
 * OIDC (recommended): Pub/Sub sends `Authorization: Bearer <Google-signed JWT>`; we check the
 * signature against Google's JWKS (fetched once and cached by jose, refetched for an unknown `kid`),
 * issuer, audience, expiry, and that the `email` claim is the push service account, verified.
 * Token: a secret in the push endpoint's query string, compared in constant time.
 */
export function createPushVerifier(config: PushAuthConfig): PushVerifier {
  if (config.mode === 'token') {
    const expected = digest(config.token);
    return {
      async verify({ queryToken }) {
        if (!queryToken) return { ok: false, reason: 'missing_token' };
        return timingSafeEqual(digest(queryToken), expected) ? { ok: true } : { ok: false, reason: 'bad_token' };
      },
    };
  }
  const jwks = createRemoteJWKSet(new URL(config.jwksUrl));
  const serviceAccount = config.serviceAccountEmail.toLowerCase();
  return {
    async verify({ authorization }) {
      const match = /^Bearer\s+(\S+)$/i.exec(authorization ?? '');
      if (!match?.[1]) return { ok: false, reason: 'missing_bearer' };
      try {
        const { payload } = await jwtVerify(match[1], jwks, {
          issuer: config.issuer,
          audience: config.audience,
          algorithms: ['RS256'],
          requiredClaims: ['exp', 'iat', 'email'],
          clockTolerance: 30,
        });
        if (typeof payload.email !== 'string' || payload.email.toLowerCase() !== serviceAccount)
          return { ok: false, reason: 'wrong_service_account' };
        if (payload.email_verified !== true && payload.email_verified !== 'true') return { ok: false, reason: 'email_not_verified' };
        return { ok: true };
      } catch (error) {
        return { ok: false, reason: (error as { code?: string }).code ?? 'invalid_token' };
      }
    },
  };
}
