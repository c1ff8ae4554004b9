import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { apiEnvSchema, ENV_ALIASES, workerEnvSchema } from './env';

const doc = readFileSync(join(new URL('.', import.meta.url).pathname, '../../../docs/configuration.md'), 'utf8');
const documented = new Set([...doc.matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((m) => m[1]));

describe('docs/configuration.md', () => {
  const names = new Set([...Object.keys(apiEnvSchema.shape), ...Object.keys(workerEnvSchema.shape)]);
  it.each([...names])('documents %s', (name) => {
    expect(documented.has(name)).toBe(true);
  });
  it.each(ENV_ALIASES.map(([alias]) => alias))('documents the alias %s', (alias) => {
    expect(documented.has(alias)).toBe(true);
  });
});
