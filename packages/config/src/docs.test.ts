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

/** The original server's env names (the table in docs/original-behaviour.md): each one is explained to a migrating user. */
describe("the original's environment variables", () => {
  const docsDir = join(new URL('.', import.meta.url).pathname, '../../../docs');
  const behaviour = readFileSync(join(docsDir, 'original-behaviour.md'), 'utf8');
  const table = behaviour.slice(behaviour.indexOf('## Environment variables of the original'));
  const originalNames = [
    ...new Set(
      table
        .split('\n')
        .filter((line) => line.startsWith('| `'))
        .flatMap((line) => [...line.split('|')[1]!.matchAll(/`([A-Z][A-Z0-9_]*\*?)`/g)].map((m) => m[1]!)),
    ),
  ];
  const explained = `${readFileSync(join(docsDir, 'migration.md'), 'utf8')}\n${doc}`;

  it('lists them all (the table is where the test reads them)', () => {
    expect(originalNames.length).toBeGreaterThanOrEqual(60);
    expect(originalNames).toEqual(expect.arrayContaining(['FLASK_SECRET_KEY', 'TEST_API_KEY', 'GUNICORN_*', 'BG_POLLER_LOCK_FILE']));
  });
  it.each(originalNames)('%s appears in docs/migration.md or docs/configuration.md', (name) => {
    expect(explained).toContain(`\`${name}\``);
  });
});
