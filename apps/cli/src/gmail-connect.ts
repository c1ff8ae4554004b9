// npm run gmail:connect -- <email>                    connect (or reconnect) a mailbox (OAuth consent, users.watch)
// npm run gmail:connect -- --service-account <email>  connect a Workspace mailbox by domain-wide delegation
// npm run gmail:connect -- --disconnect <email>       users.stop, forget the mailbox and its credentials
// npm run gmail:connect -- --list                     connected mailboxes and their state
// npm run gmail:connect -- --labels <email>           the mailbox's labels, name → id (GMAIL_LABEL_FILTER wants the id)
// npm run gmail:connect -- --acknowledge-truncation <email>  the mail a resync could not read was checked by hand: clear the alert
// Add --label-errors to a connect to grant gmail.modify: unreadable messages then get the error label in Gmail.
// A reconnect (e.g. after needs_reauth) resumes from the stored history id: mail received meanwhile is synced.
// Needs the API's SECRET_KEY (refresh tokens are stored encrypted with a key derived from it) and Redis.
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline/promises';
import { apiEnvFields, loadEnv } from '@render-signal/config';
import {
  connectDelegatedMailbox,
  connectOAuthMailbox,
  consentUrl,
  createAccessTokenSource,
  createCredentialCipher,
  createMailboxStore,
  disconnectMailbox,
  gmailClientForMailbox,
  syncJobOptions,
  type ConnectedMailbox,
  type Mailbox,
} from '@render-signal/gmail';
import { createLogger } from '@render-signal/observability';
import { createProducer, createRedisConnection, gmailQueue, redisTargetOf } from '@render-signal/queue';
import { runCli } from './run-cli';

const USAGE =
  'usage: npm run gmail:connect -- [--label-errors] <email> | [--label-errors] --service-account <email> | --disconnect <email> | --labels <email> | --acknowledge-truncation <email> | --list';

const gmailCliEnvSchema = apiEnvFields.pick({
  REDIS_URL: true,
  REDIS_CLUSTER_NODES: true,
  QUEUE_PREFIX: true,
  SECRET_KEY: true,
  GOOGLE_OAUTH_CLIENT_ID: true,
  GOOGLE_OAUTH_CLIENT_SECRET: true,
  GMAIL_OAUTH_REDIRECT_URI: true,
  GMAIL_PUBSUB_TOPIC: true,
  GMAIL_LABEL_FILTER: true,
  GMAIL_SERVICE_ACCOUNT_KEY: true,
  GMAIL_API_BASE_URL: true,
  GOOGLE_OAUTH_TOKEN_URL: true,
});

/** The operator may paste the bare code or the whole address the browser landed on. */
function readCode(input: string, expectedState: string): string {
  const text = input.trim();
  if (!/^https?:\/\//.test(text)) return text;
  const url = new URL(text);
  const error = url.searchParams.get('error');
  if (error) throw new Error(`consent refused: ${error}`);
  if (url.searchParams.get('state') !== expectedState)
    throw new Error('the pasted address belongs to another consent request (state mismatch)');
  return url.searchParams.get('code') ?? '';
}

function describe(mailbox: Mailbox): string {
  const iso = (ms: number | undefined) => (ms ? new Date(ms).toISOString() : 'never');
  const notes = [
    mailbox.lastError,
    mailbox.watchError ? `watch renewal failed: ${mailbox.watchError}` : undefined,
    mailbox.syncError,
    mailbox.resyncGap
      ? `not read by a resync: at least ${mailbox.resyncGap.at_least} message(s) received ${iso(mailbox.resyncGap.from)} → ` +
        `${iso(mailbox.resyncGap.to)} (${mailbox.resyncGap.reasons.join(', ')}; --acknowledge-truncation once checked)`
      : undefined,
  ].filter(Boolean);
  return (
    `${mailbox.address}  ${mailbox.state}  auth=${mailbox.auth}  history_id=${mailbox.historyId ?? '-'}  ` +
    `watch_expires=${iso(mailbox.watchExpiresAt)}  last_sync=${iso(mailbox.lastSyncAt)}  label_errors=${mailbox.labelErrors}` +
    (notes.length ? `  (${notes.join('; ')})` : '')
  );
}

/** The first argument names the mode; anything else is the address of an OAuth connect. */
const MODES: Record<string, 'list' | 'disconnect' | 'labels' | 'acknowledge' | 'service_account'> = {
  '--list': 'list',
  '--disconnect': 'disconnect',
  '--labels': 'labels',
  '--acknowledge-truncation': 'acknowledge',
  '--service-account': 'service_account',
};

async function main(rawArgv: string[]): Promise<number> {
  const labelErrors = rawArgv.includes('--label-errors');
  const argv = rawArgv.filter((a) => a !== '--label-errors');
  const [first, second] = argv;
  const mode = MODES[first ?? ''] ?? 'oauth';
  const address = (mode === 'oauth' ? first : second)?.trim().toLowerCase();
  if (argv.includes('--help') || (mode !== 'list' && (!address || !address.includes('@') || address.startsWith('--')))) {
    console.error(USAGE);
    return 2;
  }
  const env = loadEnv(gmailCliEnvSchema);
  const logger = createLogger({ level: 'warn', service: 'cli' });
  const redis = createRedisConnection({ ...redisTargetOf(env), profile: 'worker', name: 'rs-cli-gmail', logger });
  const mailboxes = createMailboxStore({ redis, prefix: env.QUEUE_PREFIX, cipher: createCredentialCipher(env.SECRET_KEY) });
  const oauth =
    env.GOOGLE_OAUTH_CLIENT_ID && env.GOOGLE_OAUTH_CLIENT_SECRET
      ? { tokenUrl: env.GOOGLE_OAUTH_TOKEN_URL, clientId: env.GOOGLE_OAUTH_CLIENT_ID, clientSecret: env.GOOGLE_OAUTH_CLIENT_SECRET }
      : undefined;
  const serviceAccount = env.GMAIL_SERVICE_ACCOUNT_KEY
    ? { key: env.GMAIL_SERVICE_ACCOUNT_KEY, tokenUrl: env.GOOGLE_OAUTH_TOKEN_URL }
    : undefined;
  try {
    if (mode === 'list') {
      const all = await mailboxes.list();
      console.log(all.length ? all.map(describe).join('\n') : 'no mailbox connected');
      return 0;
    }
    if (mode === 'acknowledge') {
      if (!(await mailboxes.get(address!))) {
        console.error(`${address} is not connected`);
        return 1;
      }
      const done = await mailboxes.acknowledgeResyncGap(address!);
      console.log(
        done.status === 'acknowledged' ? `acknowledged: ${address} resync gap cleared` : `${address} has no resync gap to acknowledge`,
      );
      return 0;
    }
    if (mode === 'labels') {
      if (!(await mailboxes.get(address!))) {
        console.error(`${address} is not connected`);
        return 1;
      }
      const tokens = createAccessTokenSource({ mailboxes, ...(oauth ? { oauth } : {}), ...(serviceAccount ? { serviceAccount } : {}) });
      const labels = await gmailClientForMailbox(address!, tokens, { baseUrl: env.GMAIL_API_BASE_URL }).listLabels();
      console.log(labels.map((l) => `${l.id}\t${l.name}`).join('\n'));
      return 0;
    }
    if (mode === 'disconnect') {
      const tokens = createAccessTokenSource({ mailboxes, ...(oauth ? { oauth } : {}), ...(serviceAccount ? { serviceAccount } : {}) });
      const result = await disconnectMailbox({ address: address!, tokens, gmailBaseUrl: env.GMAIL_API_BASE_URL, mailboxes });
      if (!result.removed) {
        console.error(`${address} was not connected`);
        return 1;
      }
      console.log(
        `${address} disconnected${result.stopped ? ' (users.stop done)' : `; users.stop failed (${result.reason}): the watch lapses by itself within 7 days`}`,
      );
      return 0;
    }
    if (!env.GMAIL_PUBSUB_TOPIC) throw new Error('GMAIL_PUBSUB_TOPIC is not set (projects/<project>/topics/<topic>)');
    const watch = {
      gmailBaseUrl: env.GMAIL_API_BASE_URL,
      topicName: env.GMAIL_PUBSUB_TOPIC,
      labelIds: env.GMAIL_LABEL_FILTER ? [env.GMAIL_LABEL_FILTER] : [],
    };
    let mailbox: ConnectedMailbox;
    if (mode === 'service_account') {
      if (!serviceAccount) throw new Error('GMAIL_SERVICE_ACCOUNT_KEY is not set');
      mailbox = await connectDelegatedMailbox({ address: address!, serviceAccount, watch, mailboxes, labelErrors });
    } else {
      if (!oauth) throw new Error('GOOGLE_OAUTH_CLIENT_ID and GOOGLE_OAUTH_CLIENT_SECRET are not set');
      const state = randomBytes(12).toString('hex');
      console.log(
        `1. Open this address, signed in as ${address}, and allow read-only access:\n\n${consentUrl({ clientId: oauth.clientId, redirectUri: env.GMAIL_OAUTH_REDIRECT_URI, loginHint: address!, state, labelErrors })}\n`,
      );
      console.log(`2. The browser then lands on ${env.GMAIL_OAUTH_REDIRECT_URI}?…&code=… (the page may not load: that is expected).`);
      const prompt = createInterface({ input: process.stdin, output: process.stdout });
      const answer = await prompt.question('   Paste that whole address (or just the code) here: ');
      prompt.close();
      const code = readCode(answer, state);
      if (!code) throw new Error('no code given');
      mailbox = await connectOAuthMailbox({ address: address!, code, redirectUri: env.GMAIL_OAUTH_REDIRECT_URI, oauth, watch, mailboxes });
    }
    // A sync now rather than at the next notification or poll: a reconnect catches up at once.
    const producer = createProducer(gmailQueue, { connection: redis, prefix: env.QUEUE_PREFIX });
    await producer.add('sync', { email_address: mailbox.address, trigger: 'connect' }, syncJobOptions(mailbox.address));
    await producer.close();
    console.log(`${mailbox.resumed ? 'reconnected' : 'connected'}: ${describe(mailbox)}`);
    if (mailbox.resumed) console.log('Syncing resumes from the stored history id: mail received while disconnected is read now.');
    if (labelErrors && !mailbox.labelErrors)
      console.log('gmail.modify was not granted: unreadable messages will not be labelled in Gmail.');
    console.log('New mail now reaches the pipeline through Pub/Sub; the worker renews the watch daily.');
    return 0;
  } finally {
    redis.disconnect();
  }
}

runCli('gmail:connect', main);
