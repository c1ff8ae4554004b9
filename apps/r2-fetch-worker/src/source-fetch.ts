// Fetches the source, following redirects by hand so that every hop is checked against the
// source policy (an allowlisted host must not be able to bounce the Worker elsewhere).

import { checkSourceUrl } from './source-policy';
import type { SourcePolicy, SourceRefusal } from './source-policy';

export const MAX_REDIRECTS = 5;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const USER_AGENT = 'render-signal-r2-fetch-worker';

export type SourceOutcome =
  | { kind: 'ok'; response: Response; finalUrl: URL }
  | { kind: 'refused'; reason: SourceRefusal; url: string }
  | { kind: 'status'; status: number }
  | { kind: 'too_many_redirects' }
  | { kind: 'failed'; error: unknown };

async function discardBody(response: Response): Promise<void> {
  try {
    await response.body?.cancel();
  } catch {
    // Nothing to release if the body is already gone.
  }
}

export async function fetchSource(start: URL, policy: SourcePolicy): Promise<SourceOutcome> {
  let url = start;
  for (let hop = 0; hop <= MAX_REDIRECTS; hop += 1) {
    let response: Response;
    try {
      response = await fetch(url.toString(), {
        method: 'GET',
        redirect: 'manual',
        // Ask for the bytes as stored: a compressed transfer would make Content-Length useless for streaming into R2.
        headers: { 'User-Agent': USER_AGENT, Accept: '*/*', 'Accept-Encoding': 'identity' },
      });
    } catch (error) {
      return { kind: 'failed', error };
    }

    if (REDIRECT_STATUSES.has(response.status)) {
      const location = response.headers.get('Location');
      await discardBody(response);
      if (!location) return { kind: 'status', status: response.status };
      let next: string;
      try {
        next = new URL(location, url).toString();
      } catch {
        return { kind: 'refused', reason: 'invalid_url', url: location };
      }
      const check = checkSourceUrl(next, policy);
      if (!check.allowed) return { kind: 'refused', reason: check.reason, url: next };
      url = check.url;
      continue;
    }

    if (!response.ok) {
      await discardBody(response);
      return { kind: 'status', status: response.status };
    }
    return { kind: 'ok', response, finalUrl: url };
  }
  return { kind: 'too_many_redirects' };
}

/** The byte length the body will have, when the source states it and sends the bytes unencoded. */
export function declaredLength(headers: Headers): number | undefined {
  const encoding = headers.get('Content-Encoding')?.trim().toLowerCase();
  if (encoding && encoding !== 'identity') return undefined;
  const raw = headers.get('Content-Length')?.trim();
  if (!raw || !/^\d+$/.test(raw)) return undefined;
  const length = Number(raw);
  return Number.isSafeInteger(length) ? length : undefined;
}
