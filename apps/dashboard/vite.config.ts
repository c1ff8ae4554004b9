import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// Served by the API under /dashboard/ (behind the operator login); no CDN, every asset is bundled.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/dashboard/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // The CSP forbids inline scripts and data: module preloads: keep everything as files.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
  },
  logLevel: 'warn',
});
