import got from 'got';
import { importPKCS8, SignJWT } from 'jose';

/** Read-only access is all the ingress needs: it never modifies, sends or deletes mail. */
export const GMAIL_READONLY_SCOPE = 'https://www.googleapis.com/auth/gmail.readonly';
export const GOOGLE_CONSENT_URL = 'https://accounts.google.com/o/oauth2/v2/auth';

export interface OAuthClientConfig {
  tokenUrl: string;
  clientId: string;
  clientSecret: string;
  timeoutMs?: number;
}

export interface AccessToken {
  token: string;
  /** Epoch ms. */
  expiresAt: number;
}

/** gmail.modify: read, and label messages (the error label on unreadable ones); asked for with `--label-errors`. */
export const GMAIL_MODIFY_SCOPE = 'https://www.googleapis.com/auth/gmail.modify';

/**
 * Token endpoint error codes that retrying cannot fix: the grant or the client's right to it is gone.
 * `invalid_grant`: refresh token revoked or expired (password change, 7-day Testing app, delegation
 * JWT refused). `unauthorized_client`: the client may not use this grant (Workspace delegation removed,
 * scope no longer authorised). `access_denied`, `invalid_scope`, `admin_policy_enforced`: an admin or
 * the user withdrew access. `invalid_client` (wrong client id/secret) is a deployment error: it is
 * retried, fixing the env is enough.
 */
export const DEAD_GRANT_ERRORS: ReadonlySet<string> = new Set([
  'invalid_grant',
  'unauthorized_client',
  'access_denied',
  'invalid_scope',
  'admin_policy_enforced',
]);

/** The refresh token (or delegation) no longer works: someone must reconnect the mailbox. */
export class TokenRevokedError extends Error {
  /** The mailbox grant (see MailboxStore.markNeedsReauth) whose credential was refused, when known. */
  grant: number | undefined;
  constructor(
    readonly reason: string,
    /** The token endpoint's `error` code (one of DEAD_GRANT_ERRORS). */
    readonly code = 'invalid_grant',
  ) {
    super(`Google refused the credential: ${code}: ${reason}`);
    this.name = 'TokenRevokedError';
  }
}

/** Any other failure of the token endpoint (network, 5xx, misconfigured client). Retried by the job. */
export class TokenEndpointError extends Error {
  constructor(
    readonly status: number | undefined,
    message: string,
  ) {
    super(message);
    this.name = 'TokenEndpointError';
  }
}

/**
 * The consent URL for one mailbox: offline access so Google returns a refresh token, and
 * `prompt=consent` so it returns one again when the mailbox was connected before.
 */
export function consentUrl(options: {
  clientId: string;
  redirectUri: string;
  loginHint?: string;
  state?: string;
  authUrl?: string;
  /** Ask gmail.modify instead of gmail.readonly (to label unreadable messages in Gmail). */
  labelErrors?: boolean;
}): string {
  const url = new URL(options.authUrl ?? GOOGLE_CONSENT_URL);
  url.search = new URLSearchParams({
    client_id: options.clientId,
    redirect_uri: options.redirectUri,
    response_type: 'code',
    scope: options.labelErrors ? GMAIL_MODIFY_SCOPE : GMAIL_READONLY_SCOPE,
    access_type: 'offline',
    prompt: 'consent',
    include_granted_scopes: 'true',
    ...(options.loginHint ? { login_hint: options.loginHint } : {}),
    ...(options.state ? { state: options.state } : {}),
  }).toString();
  return url.toString();
}

interface TokenResponse {
  access_token?: string;
  expires_in?: number;
  refresh_token?: string;
  /** Space-separated scopes granted (the user may untick some on the consent screen). */
  scope?: string;
  error?: string;
  error_description?: string;
}

/**
 * One POST to the token endpoint (form encoded, as RFC 6749 and Google require). `invalid_grant`
 * means the grant itself is dead (revoked, expired, password changed, delegation removed): Google
 * answers it with 400, and some proxies with 401, so the error code decides, not the status.
 */
async function postTokenRequest(
  tokenUrl: string,
  form: Record<string, string>,
  timeoutMs = 15_000,
  now = Date.now,
): Promise<AccessToken & { refreshToken?: string; scope?: string }> {
  let response;
  try {
    response = await got.post(tokenUrl, {
      form,
      responseType: 'text',
      throwHttpErrors: false,
      retry: { limit: 1 },
      timeout: { request: timeoutMs },
    });
  } catch (error) {
    throw new TokenEndpointError(undefined, `token endpoint unreachable: ${(error as Error).message}`);
  }
  let body: TokenResponse = {};
  try {
    body = JSON.parse(response.body) as TokenResponse;
  } catch {
    // handled below
  }
  if (body.error && DEAD_GRANT_ERRORS.has(body.error)) throw new TokenRevokedError(body.error_description ?? body.error, body.error);
  if (response.statusCode !== 200 || !body.access_token) {
    throw new TokenEndpointError(
      response.statusCode,
      `token endpoint answered ${response.statusCode}${body.error ? ` ${body.error}` : ''}`,
    );
  }
  return {
    token: body.access_token,
    expiresAt: now() + (body.expires_in ?? 3_600) * 1000,
    ...(body.refresh_token ? { refreshToken: body.refresh_token } : {}),
    ...(body.scope ? { scope: body.scope } : {}),
  };
}

/** The authorization code from the consent screen → tokens (the refresh token is what we keep). */
export function exchangeAuthorizationCode(config: OAuthClientConfig, code: string, redirectUri: string) {
  return postTokenRequest(
    config.tokenUrl,
    { grant_type: 'authorization_code', code, redirect_uri: redirectUri, client_id: config.clientId, client_secret: config.clientSecret },
    config.timeoutMs,
  );
}

export function refreshAccessToken(config: OAuthClientConfig, refreshToken: string): Promise<AccessToken> {
  return postTokenRequest(
    config.tokenUrl,
    { grant_type: 'refresh_token', refresh_token: refreshToken, client_id: config.clientId, client_secret: config.clientSecret },
    config.timeoutMs,
  );
}

/** The fields of a Google service account key file this needs. */
export interface ServiceAccountKey {
  client_email: string;
  private_key: string;
  private_key_id?: string;
}

/**
 * Workspace domain-wide delegation: a JWT signed with the service account's key, `sub` = the mailbox
 * to act as, exchanged with the JWT bearer grant (RFC 7523). The token endpoint is the audience.
 */
export async function delegatedAccessToken(options: {
  tokenUrl: string;
  key: ServiceAccountKey;
  subject: string;
  scope?: string;
  timeoutMs?: number;
  now?: number;
}): Promise<AccessToken & { scope?: string }> {
  const issuedAt = Math.floor((options.now ?? Date.now()) / 1000);
  const signingKey = await importPKCS8(options.key.private_key, 'RS256');
  const assertion = await new SignJWT({ scope: options.scope ?? GMAIL_READONLY_SCOPE })
    .setProtectedHeader({ alg: 'RS256', typ: 'JWT', ...(options.key.private_key_id ? { kid: options.key.private_key_id } : {}) })
    .setIssuer(options.key.client_email)
    .setSubject(options.subject)
    .setAudience(options.tokenUrl)
    .setIssuedAt(issuedAt)
    .setExpirationTime(issuedAt + 3_600)
    .sign(signingKey);
  return postTokenRequest(options.tokenUrl, { grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion }, options.timeoutMs);
}
