import { z } from 'zod';

// The original accepted these spellings (case-insensitive); migrating users keep their .env files.
const TRUE_WORDS = new Set(['1', 'true', 'yes', 'y', 'on']);
const FALSE_WORDS = new Set(['0', 'false', 'no', 'n', 'off', '']);

/** An env boolean: `1/true/yes/y/on` or `0/false/no/n/off`, anything else is an error. */
export const envBoolean = (defaultValue: boolean) =>
  z
    .string()
    .optional()
    .transform((raw, ctx) => {
      if (raw === undefined) return defaultValue;
      const word = raw.trim().toLowerCase();
      if (TRUE_WORDS.has(word)) return true;
      if (FALSE_WORDS.has(word)) return false;
      ctx.addIssue({ code: 'custom', message: `expected a boolean (true/false/1/0/yes/no/on/off), got "${raw}"` });
      return z.NEVER;
    });
