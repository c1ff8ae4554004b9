import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

/** worker.ts bundled into one ES module script, as wrangler deploys it: what Miniflare runs in tests. */
export async function bundleR2FetchWorker(): Promise<string> {
  const bundle = await build({
    entryPoints: [fileURLToPath(new URL('./worker.ts', import.meta.url))],
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    write: false,
  });
  const script = bundle.outputFiles[0]?.text;
  if (!script) throw new Error('esbuild produced no output');
  return script;
}
