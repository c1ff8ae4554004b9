import { existsSync } from 'node:fs';
import { dirname, join, parse } from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { Router } from 'express';
import type { AppDeps } from '../app-deps';
import { requireOperator } from '../http/operator-auth';

/**
 * The operator dashboard (apps/dashboard, built by Vite into apps/dashboard/dist) served at /dashboard,
 * behind the login. `/` leads there, as the original served its dashboard at `/`.
 */
export function findDashboardDist(start = dirname(fileURLToPath(import.meta.url))): string {
  // src/routes (tests, tsx) and dist/ (bundled) sit at different depths: walk up to the repository root.
  for (let dir = start; dir !== parse(dir).root; dir = dirname(dir)) {
    if (existsSync(join(dir, 'apps', 'dashboard'))) return join(dir, 'apps', 'dashboard', 'dist');
  }
  return join(process.cwd(), 'apps', 'dashboard', 'dist');
}

export function dashboardRouter(deps: AppDeps): Router {
  const distDir = deps.dashboardDir ?? findDashboardDist();
  const router = Router();
  router.get('/', (_req, res) => res.redirect(302, '/dashboard'));
  router.use(
    '/dashboard',
    requireOperator(deps),
    (req, res, next) => {
      if (existsSync(join(distDir, 'index.html'))) return next();
      deps.logger.error('dashboard.not_built', { dist: distDir });
      res.status(503).type('text').send("Le tableau de bord n'est pas construit : lancez `npm run build`.");
      void req;
    },
    // Hashed assets can be cached; index.html never is (it names the current assets).
    express.static(distDir, {
      index: 'index.html',
      setHeaders: (res, path) =>
        res.setHeader('Cache-Control', path.endsWith('index.html') ? 'no-store' : 'public, max-age=31536000, immutable'),
    }),
  );
  return router;
}
