// npm run magic-link -- [--unlimited] [--label <text>] [--base-url https://signal.example.com]
// Prints a login link for the dashboard (the first login, or when the password is lost). Uses the API's
// SECRET_KEY and Redis: the link is recorded exactly as one generated from the dashboard.
import { createMagicLinkStore, deriveAuthKeys } from '@render-signal/auth';
import { apiEnvFields, isProduction, loadEnv } from '@render-signal/config';
import { createLogger } from '@render-signal/observability';
import { createRedisConnection, redisTargetOf } from '@render-signal/queue';
import { runCli } from './run-cli';

const USAGE = 'usage: npm run magic-link -- [--unlimited] [--label <text>] [--base-url <origin>]';

// Only what a link needs: the CLI must not require the ingress token or other API-only settings.
const magicLinkEnvSchema = apiEnvFields.pick({
  REDIS_URL: true,
  REDIS_CLUSTER_NODES: true,
  QUEUE_PREFIX: true,
  SECRET_KEY: true,
  MAGIC_LINK_TTL_SECONDS: true,
  PUBLIC_BASE_URL: true,
  PORT: true,
  NODE_ENV: true,
  MAGIC_LINK_PERMANENT_MAX_AGE: true,
});

function flagValue(argv: string[], name: string): string | undefined {
  const index = argv.indexOf(name);
  return index >= 0 ? argv[index + 1] : undefined;
}

async function main(argv: string[]): Promise<number> {
  const known = new Set(['--unlimited', '--label', '--base-url']);
  const unknown = argv.filter((a, i) => a.startsWith('--') && !known.has(a) && argv[i - 1] !== '--label');
  if (unknown.length > 0 || argv.includes('--help')) {
    console.error(USAGE);
    return 2;
  }
  const env = loadEnv(magicLinkEnvSchema);
  if (isProduction(env) && !env.PUBLIC_BASE_URL && !flagValue(argv, '--base-url')) {
    console.error('magic-link: PUBLIC_BASE_URL is not set; in production a link needs the public origin (set it, or pass --base-url)');
    return 1;
  }
  const baseUrl = (flagValue(argv, '--base-url') ?? env.PUBLIC_BASE_URL ?? `http://localhost:${env.PORT}`).replace(/\/$/, '');
  const unlimited = argv.includes('--unlimited');
  const label = flagValue(argv, '--label') ?? 'cli';
  const logger = createLogger({ level: 'warn', service: 'cli' });
  const redis = createRedisConnection({ ...redisTargetOf(env), profile: 'worker', name: 'rs-cli-magic-link', logger });
  try {
    const store = createMagicLinkStore({
      redis,
      prefix: env.QUEUE_PREFIX,
      key: deriveAuthKeys(env.SECRET_KEY).magicLink,
      permanentMaxAgeMs: env.MAGIC_LINK_PERMANENT_MAX_AGE,
    });
    const link = await store.issue({ unlimited, ttlSeconds: env.MAGIC_LINK_TTL_SECONDS, label });
    console.log(`${baseUrl}/login/magic/${link.token}`);
    console.error(
      unlimited
        ? `permanent link ${link.id}: reusable until revoked (dashboard → Outils, or DELETE /api/auth/magic-links/${link.id})`
        : `single-use link, expires at ${link.expiresAt?.toISOString()}`,
    );
    if (!env.PUBLIC_BASE_URL && !flagValue(argv, '--base-url'))
      console.error('note: PUBLIC_BASE_URL is not set; pass --base-url for a public address');
    return 0;
  } finally {
    redis.disconnect();
  }
}

runCli('magic-link', main);
