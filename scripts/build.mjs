// Bundles each app's entry points with esbuild: our workspace packages (TypeScript sources) are
// inlined, every npm dependency stays external and is loaded from node_modules at run time.
import { build } from 'esbuild';
import { existsSync, rmSync } from 'node:fs';

const ENTRIES = {
  'apps/api': ['src/main.ts'],
  'apps/worker': ['src/main.ts'],
  'apps/cli': [
    'src/replay.ts',
    'src/config.ts',
    'src/magic-link.ts',
    'src/gmail-connect.ts',
    'src/sessions.ts',
    'src/migrate.ts',
    'src/targets.ts',
  ],
};

const externalNpmPackages = {
  name: 'external-npm-packages',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) =>
      args.path.startsWith('@render-signal/') ? undefined : { path: args.path, external: true },
    );
  },
};

for (const [app, entries] of Object.entries(ENTRIES)) {
  const present = entries.map((e) => `${app}/${e}`).filter((e) => existsSync(e));
  if (present.length === 0) continue;
  rmSync(`${app}/dist`, { recursive: true, force: true });
  await build({
    entryPoints: present,
    outdir: `${app}/dist`,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    sourcemap: true,
    logLevel: 'warning',
    plugins: [externalNpmPackages],
    // The workspace packages declare "exports": "./src/index.ts"; esbuild compiles them in.
    conditions: ['import', 'node'],
  });
  console.log(`built ${app}/dist (${present.map((e) => e.split('/').pop()).join(', ')})`);
}

// The operator dashboard: plain TypeScript + DOM bundled by Vite (apps/dashboard/vite.config.ts) into
// apps/dashboard/dist, which the API serves at /dashboard. No CDN at run time: every asset is a file.
const { build: viteBuild } = await import('vite');
await viteBuild({ configFile: 'apps/dashboard/vite.config.ts', logLevel: 'warn' });
console.log('built apps/dashboard/dist (vite)');
