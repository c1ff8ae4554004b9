import { FAULT_OPERATOR_PASSWORD } from './stack';

export interface OperatorResponse {
  status: number;
  json: Record<string, unknown>;
}

/** A logged-in dashboard operator: every call of the fault suite to the operator API goes through here. */
export interface OperatorSession {
  request(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<OperatorResponse>;
}

/**
 * Logs in like the dashboard does (POST /login form → session cookie + CSRF cookie) and sends the CSRF
 * token back in `X-CSRF-Token` on state-changing calls. If operator auth changes, only this file changes.
 */
export async function loginOperator(apiUrl: string, password = FAULT_OPERATOR_PASSWORD): Promise<OperatorSession> {
  const res = await fetch(`${apiUrl}/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ username: 'admin', password }).toString(),
    redirect: 'manual',
  });
  const cookies = new Map<string, string>();
  for (const header of res.headers.getSetCookie()) {
    const [pair] = header.split(';');
    const eq = pair!.indexOf('=');
    if (eq > 0) cookies.set(pair!.slice(0, eq).trim(), pair!.slice(eq + 1).trim());
  }
  const session = cookies.get('rs_session');
  const csrf = cookies.get('rs_csrf');
  if (res.status !== 303 || !session || !csrf)
    throw new Error(`operator login failed: HTTP ${res.status}, cookies ${[...cookies.keys()].join(',')}`);
  const cookie = `rs_session=${session}; rs_csrf=${csrf}`;
  return {
    async request(method, path, body) {
      const response = await fetch(`${apiUrl}${path}`, {
        method,
        headers: {
          cookie,
          'x-csrf-token': decodeURIComponent(csrf),
          accept: 'application/json',
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      const text = await response.text();
      let json: Record<string, unknown> = {};
      try {
        json = text ? (JSON.parse(text) as Record<string, unknown>) : {};
      } catch {
        json = { raw: text.slice(0, 500) };
      }
      return { status: response.status, json };
    },
  };
}
