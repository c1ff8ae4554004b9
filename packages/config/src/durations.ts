import { z } from 'zod';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses `250ms`, `5s`, `30m`, `2h`, `1d` (a bare number is milliseconds). Returns NaN when unreadable. */
export function parseDuration(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/i.exec(text);
  if (!match) return Number.NaN;
  const unit = (match[2] ?? 'ms').toLowerCase();
  return Math.round(Number(match[1]) * (UNIT_MS[unit] ?? Number.NaN));
}

/** A comma-separated list of durations, e.g. the delivery retry schedule `5s,5m,30m`. */
export const envDurationList = (defaultValue: string) =>
  z
    .string()
    .default(defaultValue)
    .transform((raw, ctx) => {
      const parts = raw
        .split(',')
        .map((p) => p.trim())
        .filter(Boolean);
      const values = parts.map(parseDuration);
      const bad = parts.filter((_, i) => !Number.isFinite(values[i]));
      if (bad.length > 0 || values.length === 0) {
        ctx.addIssue({ code: 'custom', message: `expected durations like "5s,5m,2h", could not read: ${bad.join(', ') || '(empty)'}` });
        return z.NEVER;
      }
      return values;
    });

export const envDuration = (defaultValue: string) =>
  z
    .string()
    .default(defaultValue)
    .transform((raw, ctx) => {
      const value = parseDuration(raw);
      if (!Number.isFinite(value)) {
        ctx.addIssue({ code: 'custom', message: `expected a duration like "30s" or "500ms", got "${raw}"` });
        return z.NEVER;
      }
      return value;
    });
