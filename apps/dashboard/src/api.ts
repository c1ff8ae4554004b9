/**
 * Every call to the operator API goes through here: same-origin cookies, the CSRF header on every
 * state change (the session's token, also in the readable `rs_csrf` cookie), and 401 → back to /login.
 */
export interface FieldError {
  path: string;
  message: string;
}

export class ApiRequestError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly errors: FieldError[] = [],
    readonly body: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

let csrfToken: string | null = null;

export function setCsrfToken(token: string): void {
  csrfToken = token;
}

function csrfFromCookie(): string | null {
  const match = document.cookie
    .split(';')
    .map((c) => c.trim())
    .find((c) => c.startsWith('rs_csrf='));
  return match ? decodeURIComponent(match.slice('rs_csrf='.length)) : null;
}

export function goToLogin(): void {
  window.location.assign(`/login?next=${encodeURIComponent(window.location.pathname + window.location.hash)}`);
}

export async function api<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD') headers['X-CSRF-Token'] = csrfToken ?? csrfFromCookie() ?? '';
  const res = await fetch(path, {
    method,
    headers,
    credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.status === 401) {
    goToLogin();
    throw new ApiRequestError(401, 'unauthorized', 'Session expirée.');
  }
  let json: Record<string, unknown> = {};
  try {
    json = (await res.json()) as Record<string, unknown>;
  } catch {
    // Non-JSON answers (a proxy error page): reported by status below.
  }
  if (!res.ok) {
    const message = typeof json.message === 'string' ? json.message : `Erreur ${res.status}`;
    throw new ApiRequestError(res.status, String(json.code ?? 'error'), message, (json.errors as FieldError[] | undefined) ?? [], json);
  }
  return json as T;
}

export const errorMessage = (error: unknown) => (error instanceof Error ? error.message : String(error));
