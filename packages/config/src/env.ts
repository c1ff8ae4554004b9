import { z } from 'zod';
import { envBoolean } from './booleans';
import { envDuration, envDurationList, parseDuration } from './durations';
import { weakSecretFindings, type SecretInputs } from './secrets';
import { envTrustProxy } from './trust-proxy';

/**
 * The only module that reads process.env. Each app declares its schema here, built from shared pieces,
 * and parses it once at startup. Names are the original Python server's so a migrating user keeps their env.
 */

/** Old names still accepted: [alias, canonical]. The canonical name wins when both are set. */
export const ENV_ALIASES: ReadonlyArray<readonly [string, string]> = [
  ['FLASK_SECRET_KEY', 'SECRET_KEY'],
  ['FLASK_LOG_LEVEL', 'LOG_LEVEL'],
  ['WEBHOOK_TIME_START', 'WEBHOOKS_TIME_START'],
  ['WEBHOOK_TIME_END', 'WEBHOOKS_TIME_END'],
];

const redisUrl = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()))
  .refine((v) => v === undefined || /^rediss?:\/\//.test(v), 'must start with redis:// or rediss://');

/** A seed node of a Redis Cluster: `host:port`, or a URL (`redis[s]://[user:password@]host:port`) for TLS and AUTH. */
export interface ClusterSeed {
  host: string;
  port: number;
  tls: boolean;
  username?: string;
  password?: string;
}

function parseClusterSeed(entry: string): ClusterSeed | undefined {
  const url = /^rediss?:\/\//.test(entry) ? new URL(entry) : new URL(`redis://${entry}`);
  const port = Number(url.port || 6379);
  if (!url.hostname || !Number.isInteger(port) || port < 1 || port > 65_535 || (url.pathname !== '' && url.pathname !== '/'))
    return undefined;
  return {
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port,
    tls: url.protocol === 'rediss:',
    ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
    ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
  };
}

/** `REDIS_CLUSTER_NODES=host:port,host:port,…` (seed nodes; the rest of the cluster is discovered). */
const redisClusterNodes = z
  .string()
  .optional()
  .transform((v, ctx) => {
    const entries = (v ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    if (entries.length === 0) return undefined;
    const seeds: ClusterSeed[] = [];
    for (const entry of entries) {
      let seed: ClusterSeed | undefined;
      try {
        seed = parseClusterSeed(entry);
      } catch {
        seed = undefined;
      }
      if (!seed) {
        ctx.addIssue({ code: 'custom', message: `"${entry}" is not host:port (or redis[s]://[user:password@]host:port)` });
        return z.NEVER;
      }
      seeds.push(seed);
    }
    return seeds;
  });

/** A hash tag (`{rs}`) puts every key of the deployment in one cluster slot, as BullMQ and our scripts need. */
const HASH_TAGGED = /\{[^{}]+\}/;

const logLevel = z
  .string()
  .default('info')
  .transform((v) => v.toLowerCase())
  .pipe(z.enum(['error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly']));

const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

const positiveInt = (defaultValue: number, max = Number.MAX_SAFE_INTEGER) => z.coerce.number().int().min(1).max(max).default(defaultValue);

/** Shared by the API and the worker (both ingest: the HTTP ingress and the Gmail push sync). */
const dedupWindowDays = z.coerce.number().positive().max(365).default(30);

/** Settings every process needs. */
export const commonEnvSchema = z.object({
  /** `production` turns unsafe settings (weak secrets, …) into start-up errors; anything else only warns. */
  NODE_ENV: z
    .string()
    .default('development')
    .transform((v) => v.trim().toLowerCase()),
  /** Required unless REDIS_CLUSTER_NODES is set (checked by loadEnv). */
  REDIS_URL: redisUrl,
  /** Redis Cluster seed nodes: when set, every process connects in cluster mode and REDIS_URL is ignored. */
  REDIS_CLUSTER_NODES: redisClusterNodes,
  /**
   * BullMQ key prefix and config-store namespace: lets deployments or test runs share one Redis. May hold one
   * hash tag (`{rs}`, `{rs}prod`): required on a Redis Cluster, where it keeps every key in one slot.
   */
  QUEUE_PREFIX: z
    .string()
    .default('rs')
    .refine(
      (v) => /^[A-Za-z0-9_.-]*(\{[A-Za-z0-9_.-]+\})?[A-Za-z0-9_.-]*$/.test(v) && v !== '',
      'may only contain letters, digits, "_", "." and "-", and one hash tag such as {rs}',
    ),
  LOG_LEVEL: logLevel,
  /** Lets webhook targets and offload sources be http:// or resolve to private/loopback addresses. Unsafe in production. */
  ALLOW_PRIVATE_NETWORK: envBoolean(false),
  WEBHOOK_URL: optionalString,
  WEBHOOK_SECRET: optionalString.refine(
    (v) => v === undefined || /^whsec_[A-Za-z0-9+/=]{16,}$/.test(v),
    'must be a Standard Webhooks secret: "whsec_" followed by base64 (at least 16 characters)',
  ),
  // Defaults under the stored config documents (the original's env names; the dashboard overrides them).
  WEBHOOK_SSL_VERIFY: envBoolean(true),
  WEBHOOK_SENDING_ENABLED: envBoolean(true),
  WEBHOOK_DELIVERY_MODE: z.enum(['json', 'form']).default('json'),
  WEBHOOK_FALLBACK_ON_415: envBoolean(true),
  WEBHOOKS_TIME_START: optionalString,
  WEBHOOKS_TIME_END: optionalString,
  ALLOW_CUSTOM_WEBHOOK_WITHOUT_LINKS: envBoolean(false),
  DISABLE_EMAIL_ID_DEDUP: envBoolean(false),
  /** Comma list of senders (addresses) allowed through the ingress; empty = everyone. */
  GMAIL_SENDER_ALLOWLIST: z
    .string()
    .default('')
    .transform((v) =>
      v
        .split(',')
        .map((s) => s.trim().toLowerCase())
        .filter(Boolean),
    ),
  /** Link providers extracted from bodies: the original's three by default; wetransfer, google_drive opt-in. */
  LINK_PROVIDERS: z
    .string()
    .default('dropbox,fromsmash,swisstransfer')
    .transform((v) =>
      v
        .split(',')
        .map((s) => s.trim().toLowerCase())
        .filter(Boolean),
    ),
  /**
   * Detectors, exclusion keywords and routing rules read at most this many KB (x 1024 characters) of each field, so a
   * huge body cannot hold the worker's event loop (links are still taken from the whole body).
   */
  FIELD_SCAN_LIMIT_KB: positiveInt(256, 100 * 1024),
  /** A payload template's evaluation stops after this long: that delivery fails with `template_error`. */
  TEMPLATE_TIMEOUT_MS: positiveInt(50, 10_000),
  /** The largest body a payload template may render, in bytes (Make's limit: 5 MB). */
  WEBHOOK_MAX_BODY_BYTES: positiveInt(5 * 1024 * 1024, 100 * 1024 * 1024),
  /** The webhook log (dashboard): newest entries kept, by count and by age. */
  WEBHOOK_LOG_MAX_ENTRIES: z.coerce.number().int().min(10).max(1_000_000).default(5_000),
  WEBHOOK_LOG_MAX_AGE_DAYS: z.coerce.number().int().min(1).max(365).default(30),
  /** Email journeys and hourly figures (dashboard): written by the workers, kept by age and by count. */
  JOURNEYS_ENABLED: envBoolean(true),
  JOURNEY_MAX_AGE_DAYS: z.coerce.number().int().min(1).max(90).default(7),
  JOURNEY_MAX_ENTRIES: z.coerce.number().int().min(100).max(1_000_000).default(10_000),
  /** Absolute origin used in magic links and journey links, e.g. https://signal.example.com (else taken from the request). */
  PUBLIC_BASE_URL: optionalString.refine(
    (v) => v === undefined || /^https?:\/\/[^/\s]+\/?$/.test(v),
    'must be an origin like https://signal.example.com',
  ),
  // Gmail push ingress (docs/gmail-push.md). Everything optional: without it only the Apps Script path runs.
  GMAIL_PUSH_ENABLED: envBoolean(false),
  /** Base URLs of Google's endpoints: only tests (loopback fakes) change them. */
  GMAIL_API_BASE_URL: z.string().url().default('https://gmail.googleapis.com'),
  GOOGLE_OAUTH_TOKEN_URL: z.string().url().default('https://oauth2.googleapis.com/token'),
  /** The OAuth client (type "Desktop app") mailboxes consent to with `npm run gmail:connect`. */
  GOOGLE_OAUTH_CLIENT_ID: optionalString,
  GOOGLE_OAUTH_CLIENT_SECRET: optionalString,
  /** Where the consent screen sends the browser; the operator copies the `code` from its address bar. */
  GMAIL_OAUTH_REDIRECT_URI: z.string().url().default('http://localhost'),
  /** The Pub/Sub topic users.watch publishes to: projects/<project>/topics/<topic>. */
  GMAIL_PUBSUB_TOPIC: optionalString.refine(
    (v) => v === undefined || /^projects\/[^/]+\/topics\/[^/]+$/.test(v),
    'must look like projects/<project>/topics/<topic>',
  ),
  /** Backup history poll of every mailbox (worker); /health flags a mailbox not synced for 3 of these (API). */
  GMAIL_POLL_INTERVAL: envDuration('3m').refine((ms) => ms >= 100, 'must be at least 100ms'),
  /** Only messages with this label are synced and notified (a label id such as INBOX); empty = all mail. */
  GMAIL_LABEL_FILTER: z
    .string()
    .default('INBOX')
    .transform((v) => v.trim() || undefined),
  /** Workspace domain-wide delegation: the service account's JSON key (contents), for `--service-account` mailboxes. */
  GMAIL_SERVICE_ACCOUNT_KEY: optionalString.transform((v, ctx) => {
    if (v === undefined) return undefined;
    try {
      const key = JSON.parse(v) as { client_email?: unknown; private_key?: unknown; private_key_id?: unknown };
      if (typeof key.client_email === 'string' && typeof key.private_key === 'string') {
        return {
          client_email: key.client_email,
          private_key: key.private_key,
          ...(typeof key.private_key_id === 'string' ? { private_key_id: key.private_key_id } : {}),
        };
      }
    } catch {
      // reported below
    }
    ctx.addIssue({ code: 'custom', message: 'must be the JSON key file of a service account (client_email, private_key)' });
    return z.NEVER;
  }),
  POLLING_TIMEZONE: z
    .string()
    .default('Europe/Paris')
    .refine((tz) => {
      try {
        new Intl.DateTimeFormat('en-US', { timeZone: tz });
        return true;
      } catch {
        return false;
      }
    }, 'must be an IANA time zone such as Europe/Paris'),
});

/** The API's fields without the cross-field checks: CLIs `.pick()` from it (zod cannot pick from a refined schema). */
export const apiEnvFields = commonEnvSchema.extend({
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  PROCESS_API_TOKEN: z
    .string({ error: 'is required: the bearer token the Apps Script sends' })
    .transform((v) =>
      v
        .split(',')
        .map((t) => t.trim())
        .filter(Boolean),
    )
    .refine((tokens) => tokens.length > 0, 'must hold at least one token')
    .refine((tokens) => tokens.every((t) => t.length >= 8), 'each token must be at least 8 characters'),
  /** Signs sessions and magic links. Production needs ≥ 32 varied characters (secrets.ts); elsewhere ≥ 16. */
  SECRET_KEY: z.string({ error: 'is required (FLASK_SECRET_KEY is accepted too)' }).min(16, 'must be at least 16 characters'),
  /**
   * Which proxies may set X-Forwarded-For/-Proto (Express "trust proxy"): `false` (default: none, the
   * socket's address is the client), a hop count, `loopback`/`linklocal`/`uniquelocal`, IPs/CIDRs, or `true`.
   */
  TRUST_PROXY: envTrustProxy(),
  /** Largest ingress body accepted, in MB (Gmail HTML bodies can be large). */
  INGRESS_MAX_BODY_MB: z.coerce.number().positive().max(100).default(10),
  /** How long an email id stays "seen": a re-sent email inside the window is answered already_processed. */
  DEDUP_WINDOW_DAYS: dedupWindowDays,
  /**
   * Bearer token for GET /metrics. Unset in production: /metrics answers 401 to everyone unless
   * METRICS_PUBLIC=true; unset elsewhere: open.
   */
  METRICS_TOKEN: optionalString,
  /** Serve /metrics without a token in production too (only on a private network). */
  METRICS_PUBLIC: envBoolean(false),
  /** /health reports `degraded` when the dead-letter (failed) count of any queue exceeds this. */
  HEALTH_DEAD_LETTER_THRESHOLD: z.coerce.number().int().min(0).default(100),
  /** Upper bound on how long the ingress waits for Redis before answering 503. */
  INGRESS_REDIS_TIMEOUT: envDuration('1500ms'),
  // Operator dashboard access (the original's names where it had them).
  /** Dashboard password, plain or a werkzeug hash; unset = every login is refused (logged at startup). */
  TRIGGER_PAGE_PASSWORD: optionalString,
  TRIGGER_PAGE_USER: z.string().trim().min(1).default('admin'),
  /** Lifetime of a one-shot magic link (the original: default 900, minimum 60). */
  MAGIC_LINK_TTL_SECONDS: z.coerce
    .number()
    .int()
    .min(60)
    .max(30 * 86_400)
    .default(900),
  /**
   * Longest life of a permanent magic link, counted from its creation (e.g. `90d`). Unset: until revoked,
   * as the original's permanent links. Past it the link and the sessions it opened stop working.
   */
  MAGIC_LINK_PERMANENT_MAX_AGE: optionalString.transform((raw, ctx) => {
    if (raw === undefined) return undefined;
    const ms = parseDuration(raw);
    if (!Number.isFinite(ms) || ms < 60_000) {
      ctx.addIssue({ code: 'custom', message: `expected a duration of at least 1m such as "90d", got "${raw}"` });
      return z.NEVER;
    }
    return ms;
  }),
  /** Dashboard session lifetime (the original: 8 h). */
  SESSION_TTL: envDuration('8h').refine((ms) => ms >= 60_000 && ms <= 30 * 86_400_000, 'must be between 1m and 30d'),
  /** Secure flag of the session cookie: auto = when the request came over HTTPS (trust proxy). */
  COOKIE_SECURE: z
    .string()
    .default('auto')
    .transform((v) => v.trim().toLowerCase())
    .pipe(z.enum(['auto', 'true', 'false'])),
  /** Failed logins allowed per IP and window (the original: 5 per 5 minutes). */
  LOGIN_RATE_LIMIT_MAX: positiveInt(5, 1000),
  LOGIN_RATE_LIMIT_WINDOW: envDuration('5m'),
  // Gmail push endpoint (POST /api/ingress/gmail/pubsub): how a push proves it comes from our subscription.
  /** `oidc`: Google-signed token of the subscription's service account (recommended). `token`: a secret in the push URL. */
  GMAIL_PUSH_AUTH: z.enum(['oidc', 'token']).default('oidc'),
  /** The audience configured on the push subscription (default there: the push endpoint URL). */
  GMAIL_PUSH_AUDIENCE: optionalString,
  /** The service account the push subscription authenticates as. */
  GMAIL_PUSH_SERVICE_ACCOUNT: optionalString,
  /** With GMAIL_PUSH_AUTH=token: the `?token=` value of the push endpoint URL (≥ 32 characters). */
  GMAIL_PUSH_VERIFICATION_TOKEN: optionalString.refine((v) => v === undefined || v.length >= 32, 'must be at least 32 characters'),
  GOOGLE_OIDC_JWKS_URL: z.string().url().default('https://www.googleapis.com/oauth2/v3/certs'),
  /** Either Google form (`https://accounts.google.com` or `accounts.google.com`) accepts both, as Google's samples do. */
  GOOGLE_OIDC_ISSUER: z.string().default('https://accounts.google.com'),
});

/** Production refuses weak secrets (the message names the variable and a command that makes a good one). */
function checkSecretStrength(env: SecretInputs & { NODE_ENV: string }, ctx: z.RefinementCtx): void {
  if (!isProduction(env)) return;
  for (const finding of weakSecretFindings(env))
    ctx.addIssue({ code: 'custom', path: [finding.variable], message: `${finding.message} (refused with NODE_ENV=production)` });
}

export const isProduction = (env: { NODE_ENV: string }): boolean => env.NODE_ENV === 'production';

export const apiEnvSchema = apiEnvFields.superRefine(checkSecretStrength);

const workerEnvBase = commonEnvSchema.extend({
  /** Parallel deliveries per worker process; webhook delivery is I/O bound. */
  DELIVERY_CONCURRENCY: positiveInt(50, 1000),
  /** Parallel email jobs (detect → route → plan) per worker process. */
  EMAIL_CONCURRENCY: positiveInt(20, 1000),
  /** Delay before each retry of a failed delivery; its length + 1 is the number of attempts. */
  DELIVERY_RETRY_SCHEDULE: envDurationList('5s,5m,30m,2h,5h,10h,10h'),
  /** Random spread applied to each retry delay (0..1), so retries of many emails do not hit a target at once. */
  DELIVERY_RETRY_JITTER: z.coerce.number().min(0).max(1).default(0.2),
  /** Longest Retry-After honoured from a 429/503 answer; longer values are capped. */
  DELIVERY_MAX_RETRY_AFTER: envDuration('1h'),
  DELIVERY_TIMEOUT: envDuration('30s'),
  /**
   * A job whose worker stops renewing its lock for this long (crash, kill -9) is handed to another worker. A live
   * worker renews every quarter of it, so only an event loop blocked for 3/4 of it could lose a running job.
   */
  JOB_LOCK_DURATION: envDuration('10s').refine((ms) => ms >= 500, 'must be at least 500ms'),
  /** How often the workers look for jobs whose lock expired (one check per queue across all workers). */
  JOB_STALLED_INTERVAL: envDuration('2s').refine((ms) => ms >= 100, 'must be at least 100ms'),
  /**
   * Deliveries to one target host in flight at once per worker process, so a slow target cannot take every
   * slot. Unset: 80 % of DELIVERY_CONCURRENCY (one busy target still gets most of the throughput).
   */
  DELIVERY_PER_TARGET_CONCURRENCY: z.coerce.number().int().min(1).max(1000).optional(),
  /**
   * An email with one target and nothing to offload is delivered by its email job (no delivery job unless the
   * first attempt fails). Off: every delivery is its own job, as before.
   */
  DELIVERY_FAST_PATH: envBoolean(true),
  // Destination health (docs/operations.md#destination-health): failing → paused → recovering → healthy, per target URL.
  /** Failed attempts in a row (5xx, timeout, network, 429, success:false, permanent 4xx) that make a target `failing`. */
  TARGET_FAILING_AFTER: positiveInt(5, 1_000),
  /** A failing target with no success for this long is paused: its deliveries are held, one probe per interval. */
  TARGET_PAUSE_AFTER: envDuration('10m').refine((ms) => ms >= 1_000, 'must be at least 1s'),
  TARGET_PROBE_INTERVAL: envDuration('30s').refine((ms) => ms >= 500, 'must be at least 500ms'),
  /** The probe interval doubles while probes fail, up to this. */
  TARGET_PROBE_MAX_INTERVAL: envDuration('5m').refine((ms) => ms >= 500, 'must be at least 500ms'),
  /** Held deliveries released per second once the target is back (all workers together). */
  TARGET_RELEASE_RATE: positiveInt(20, 10_000),
  /** A delivery held longer than this is dead-lettered (`target_paused_too_long`). */
  TARGET_HOLD_MAX: envDuration('7d').refine((ms) => ms >= 1_000, 'must be at least 1s'),
  // Alerts (target.failing / target.paused / target.recovered, dead-letter digest); the dashboard's alert_settings win.
  ALERT_WEBHOOK_URL: optionalString,
  ALERT_WEBHOOK_SECRET: optionalString.refine(
    (v) => v === undefined || /^whsec_[A-Za-z0-9+/=]{16,}$/.test(v),
    'must be a Standard Webhooks secret: "whsec_" followed by base64 (at least 16 characters)',
  ),
  /** smtp://user:pass@host:587 or smtps://…: alerts by email (with ALERT_EMAIL_TO). */
  SMTP_URL: optionalString,
  ALERT_EMAIL_TO: optionalString,
  ALERT_EMAIL_FROM: z.string().default('Render Signal <alerts@render-signal.local>'),
  /** Dead letters are summed up in one alert at most this often. */
  ALERT_DIGEST_INTERVAL: envDuration('15m').refine((ms) => ms >= 1_000, 'must be at least 1s'),
  // File offload (R2/S3). The original's names: R2_FETCH_*, R2_BUCKET_NAME, R2_PUBLIC_BASE_URL.
  R2_FETCH_ENABLED: envBoolean(false),
  OFFLOAD_MODE: z.enum(['worker', 'direct']).default('worker'),
  R2_FETCH_ENDPOINT: optionalString,
  R2_FETCH_TOKEN: optionalString,
  R2_BUCKET_NAME: optionalString,
  R2_PUBLIC_BASE_URL: optionalString,
  S3_ENDPOINT: optionalString,
  S3_REGION: z.string().default('auto'),
  S3_ACCESS_KEY_ID: optionalString,
  S3_SECRET_ACCESS_KEY: optionalString,
  /** The webhook never waits longer than this for its offloads: it leaves with what is ready. */
  OFFLOAD_DEADLINE: envDuration('60s'),
  OFFLOAD_MAX_MB: z.coerce.number().positive().default(2048),
  OFFLOAD_TIMEOUT: envDuration('15s'),
  OFFLOAD_DROPBOX_FOLDER_TIMEOUT: envDuration('120s'),
  OFFLOAD_PRESIGN_EXPIRY: envDuration('7d'),
  OFFLOAD_CACHE_TTL: envDuration('7d'),
  OFFLOAD_CONCURRENCY: positiveInt(4, 100),
  /** On SIGTERM, how long in-flight jobs may run before the process exits anyway. */
  SHUTDOWN_TIMEOUT: envDuration('25s'),
  // Gmail push sync (the worker ingests too, so it needs the dedup window and the credential key).
  DEDUP_WINDOW_DAYS: dedupWindowDays,
  /** Decrypts mailbox refresh tokens (same value as the API's); required with GMAIL_PUSH_ENABLED. */
  SECRET_KEY: optionalString.refine((v) => v === undefined || v.length >= 16, 'must be at least 16 characters'),
  /** users.watch renewal period (a watch lapses after 7 days; Google recommends daily). */
  GMAIL_WATCH_RENEW_INTERVAL: envDuration('1d').refine((ms) => ms >= 100 && ms <= 6 * 86_400_000, 'must be between 100ms and 6d'),
  /**
   * When the stored history id is too old (404): the full resync pages through the messages received
   * since the mailbox was connected, newest first, at most this many (a cut-short resync is logged and
   * shown in /health).
   */
  GMAIL_RESYNC_MAX_MESSAGES: positiveInt(1_000, 100_000),
  /** The Apps Script's error label: put on a message the sync cannot read, when the mailbox granted gmail.modify. Empty = never. */
  GMAIL_ERROR_LABEL: z
    .string()
    .default('A_TRANSFERER_WEBHOOK/ERREUR')
    .transform((v) => v.trim() || undefined),
  /** Also send mail the account sent itself when it lands in the inbox (mail to yourself), like the Apps Script's SEND_OWN_MESSAGES. */
  GMAIL_SEND_OWN_MESSAGES: envBoolean(false),
});

/** Offload settings must be complete when offload is on: list what is missing instead of failing later. */
function checkOffloadSettings(env: z.infer<typeof workerEnvBase>, ctx: z.RefinementCtx): void {
  if (!env.R2_FETCH_ENABLED) return;
  const required =
    env.OFFLOAD_MODE === 'worker'
      ? // The shipped Worker answers 400 "bucket is required" without a bucket name: every offload would fail.
        (['R2_FETCH_ENDPOINT', 'R2_FETCH_TOKEN', 'R2_BUCKET_NAME'] as const)
      : (['S3_ENDPOINT', 'S3_ACCESS_KEY_ID', 'S3_SECRET_ACCESS_KEY', 'R2_BUCKET_NAME'] as const);
  for (const name of required) {
    if (!env[name])
      ctx.addIssue({
        code: 'custom',
        path: [name],
        message: `is required when R2_FETCH_ENABLED=true and OFFLOAD_MODE=${env.OFFLOAD_MODE}`,
      });
  }
}

/** Gmail push needs the key to decrypt credentials, a way to get tokens and the topic to watch. */
function checkGmailSettings(env: z.infer<typeof workerEnvBase>, ctx: z.RefinementCtx): void {
  if (!env.GMAIL_PUSH_ENABLED) return;
  const problems: Array<[string, string]> = [];
  if (!env.SECRET_KEY)
    problems.push(['SECRET_KEY', "is required when GMAIL_PUSH_ENABLED=true (the API's value: it decrypts mailbox credentials)"]);
  if (!env.GMAIL_PUBSUB_TOPIC) problems.push(['GMAIL_PUBSUB_TOPIC', 'is required when GMAIL_PUSH_ENABLED=true']);
  if (!env.GMAIL_SERVICE_ACCOUNT_KEY && !(env.GOOGLE_OAUTH_CLIENT_ID && env.GOOGLE_OAUTH_CLIENT_SECRET)) {
    problems.push([
      'GOOGLE_OAUTH_CLIENT_ID',
      'and GOOGLE_OAUTH_CLIENT_SECRET (or GMAIL_SERVICE_ACCOUNT_KEY) are required when GMAIL_PUSH_ENABLED=true',
    ]);
  }
  for (const [name, message] of problems) ctx.addIssue({ code: 'custom', path: [name], message });
}

/**
 * Alert channels: a URL that cannot be one is refused at start in production (elsewhere the alert fails, logged);
 * the probe intervals must be ordered.
 */
function checkAlertSettings(env: z.infer<typeof workerEnvBase>, ctx: z.RefinementCtx): void {
  if (env.TARGET_PROBE_MAX_INTERVAL < env.TARGET_PROBE_INTERVAL)
    ctx.addIssue({ code: 'custom', path: ['TARGET_PROBE_MAX_INTERVAL'], message: 'must be at least TARGET_PROBE_INTERVAL' });
  if (env.ALERT_WEBHOOK_URL !== undefined && !/^https?:\/\/[^\s/]+/i.test(env.ALERT_WEBHOOK_URL))
    ctx.addIssue({
      code: 'custom',
      path: ['ALERT_WEBHOOK_URL'],
      message: 'must be an http(s) URL such as https://hooks.slack.com/services/…',
    });
  else if (env.ALERT_WEBHOOK_URL !== undefined && /^http:/i.test(env.ALERT_WEBHOOK_URL) && !env.ALLOW_PRIVATE_NETWORK)
    ctx.addIssue({
      code: 'custom',
      path: ['ALERT_WEBHOOK_URL'],
      message: 'must be https (http only with ALLOW_PRIVATE_NETWORK=true, as for targets)',
    });
  if (!isProduction(env)) return;
  if (env.SMTP_URL !== undefined && smtpUrlProblem(env.SMTP_URL))
    ctx.addIssue({
      code: 'custom',
      path: ['SMTP_URL'],
      message: `${smtpUrlProblem(env.SMTP_URL)}: expected smtp://user:password@host:587 or smtps://user:password@host:465 (refused with NODE_ENV=production)`,
    });
  if (env.SMTP_URL !== undefined && !env.ALERT_EMAIL_TO)
    ctx.addIssue({ code: 'custom', path: ['ALERT_EMAIL_TO'], message: 'is required with SMTP_URL (refused with NODE_ENV=production)' });
}

/** Why an SMTP URL cannot be used, or undefined when it can. */
export function smtpUrlProblem(raw: string): string | undefined {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'is not a URL';
  }
  if (url.protocol !== 'smtp:' && url.protocol !== 'smtps:') return `has the scheme "${url.protocol}"`;
  if (!url.hostname) return 'names no host';
  return undefined;
}

export const cliEnvSchema = commonEnvSchema;

/** `npm run migrate`: the new deployment's settings, plus the dedup window used for markers the original kept without TTL. */
export const migrateEnvSchema = commonEnvSchema.extend({ DEDUP_WINDOW_DAYS: dedupWindowDays });

export const workerEnvSchema = workerEnvBase.superRefine((env, ctx) => {
  checkOffloadSettings(env, ctx);
  checkGmailSettings(env, ctx);
  checkAlertSettings(env, ctx);
  checkSecretStrength({ NODE_ENV: env.NODE_ENV, SECRET_KEY: env.SECRET_KEY }, ctx);
});

export type CommonEnv = z.infer<typeof commonEnvSchema>;
export type ApiEnv = z.infer<typeof apiEnvSchema>;
export type WorkerEnv = z.infer<typeof workerEnvSchema>;

export class EnvError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'EnvError';
  }
}

/** Applies the aliases: a value under an old name is used when the new name is unset. */
export function applyEnvAliases(source: Record<string, string | undefined>): Record<string, string | undefined> {
  const env = { ...source };
  for (const [alias, canonical] of ENV_ALIASES) {
    if ((env[canonical] === undefined || env[canonical] === '') && env[alias] !== undefined) env[canonical] = env[alias];
  }
  return env;
}

/**
 * Where Redis is, for every schema that asks for it: REDIS_CLUSTER_NODES wins over REDIS_URL; one of them is
 * required; in cluster mode QUEUE_PREFIX must hold a hash tag (BullMQ's scripts and ours touch several keys at once).
 */
function redisTargetProblems(schema: z.ZodType, env: Record<string, string | undefined>): string[] {
  const shape = 'shape' in schema ? (schema.shape as Record<string, unknown>) : {};
  if (!('REDIS_URL' in shape)) return [];
  if (env.REDIS_CLUSTER_NODES?.trim()) {
    const prefix = env.QUEUE_PREFIX?.trim() || 'rs';
    return HASH_TAGGED.test(prefix)
      ? []
      : [
          `QUEUE_PREFIX must hold a hash tag on a Redis Cluster (REDIS_CLUSTER_NODES is set): e.g. QUEUE_PREFIX={${prefix}}, ` +
            'so that every key of a queue, and every key one script touches, lives in one slot',
        ];
  }
  return env.REDIS_URL?.trim() ? [] : ['REDIS_URL is required (e.g. redis://127.0.0.1:6379), or REDIS_CLUSTER_NODES for a Redis Cluster'];
}

/** Parses the environment against a schema; throws EnvError listing every missing or wrong variable. */
export function loadEnv<S extends z.ZodType>(schema: S, source: Record<string, string | undefined> = process.env): z.infer<S> {
  const env = applyEnvAliases(source);
  const result = schema.safeParse(env);
  const redisProblems = redisTargetProblems(schema, env);
  if (result.success && redisProblems.length === 0) return result.data;
  const problems = (result.success ? [] : result.error.issues).map((issue) => {
    const name = issue.path.join('.') || '(env)';
    const message =
      issue.code === 'invalid_type' && issue.input === undefined && issue.message.startsWith('Invalid input')
        ? 'is required'
        : issue.message;
    return `${name} ${message}`;
  });
  throw new EnvError([...redisProblems, ...problems]);
}
