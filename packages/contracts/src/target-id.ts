import { hash } from 'node:crypto';

/**
 * A target's stable id: a short hash of its exact URL (`tgt_` + 12 hex of sha256). Operators name a target by it
 * (bulk replay filters, the journeys' per-target summary) without the URL, which may hold a secret token.
 */
export function targetIdOf(url: string): string {
  let normalized = url.trim();
  try {
    // `HTTPS://Host:443` and `https://host/` name the same target.
    normalized = new URL(normalized).href;
  } catch {
    // Not a URL: hashed as written.
  }
  return `tgt_${hash('sha256', normalized, 'hex').slice(0, 12)}`;
}

export const TARGET_ID_PATTERN = /^tgt_[0-9a-f]{12}$/;
