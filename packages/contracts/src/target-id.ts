import { hash } from 'node:crypto';

/**
 * A target's stable id: a short hash of its URL (`tgt_` + 12 hex of sha256). Operators name a target by it (the
 * « Cibles » view and `/api/targets/:id`, destination health's Redis keys, bulk replay filters, the journeys'
 * per-target summary) without the URL, which may hold a secret token. The one definition of a target id.
 */
export function targetIdOf(url: string): string {
  const known = ids.get(url);
  if (known !== undefined) return known;
  if (ids.size >= 1_000) ids.clear(); // a few targets in practice; bounded all the same
  const id = computeTargetId(url);
  ids.set(url, id);
  return id;
}

/** Computed once per URL and process (the journeys and destination health ask for every email). */
const ids = new Map<string, string>();

function computeTargetId(url: string): string {
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
