import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from '@jest/globals';
import { RENDER_SIGNAL_VERSION } from './version';

it('matches the root package.json version', () => {
  const pkg = JSON.parse(readFileSync(join(new URL('.', import.meta.url).pathname, '../../../package.json'), 'utf8')) as {
    version: string;
  };
  expect(RENDER_SIGNAL_VERSION).toBe(pkg.version);
});
