import {
  connectDelegatedMailbox,
  connectOAuthMailbox,
  createCredentialCipher,
  createMailboxStore,
  type ConnectedMailbox,
  type MailboxStore,
} from '@render-signal/gmail';
import { startWebhookSink, type WebhookSink } from '../helpers/webhook-sink';
import { startWorld, type World, type WorldOptions } from '../helpers/world';
import { pushBody, startFakeGoogle, type FakeGoogle } from './fake-google';

export const PUSH_AUDIENCE = 'https://signal.example.test/api/ingress/gmail/pubsub';
export const PUSH_SERVICE_ACCOUNT = 'gmail-push@test-project.iam.gserviceaccount.com';
export const TEST_SECRET_KEY = 'test-secret-key-0123456789';
export const TEST_TOPIC = 'projects/test-project/topics/gmail';

/** The env that points every Google endpoint at the fake. */
export function gmailEnv(google: FakeGoogle, extra: Record<string, string> = {}): Record<string, string> {
  return {
    GMAIL_PUSH_ENABLED: 'true',
    GMAIL_API_BASE_URL: google.url,
    GOOGLE_OAUTH_TOKEN_URL: google.tokenUrl,
    GOOGLE_OIDC_JWKS_URL: google.jwksUrl,
    GOOGLE_OAUTH_CLIENT_ID: 'test-client-id',
    GOOGLE_OAUTH_CLIENT_SECRET: 'test-client-secret',
    GMAIL_PUBSUB_TOPIC: TEST_TOPIC,
    GMAIL_PUSH_AUDIENCE: PUSH_AUDIENCE,
    GMAIL_PUSH_SERVICE_ACCOUNT: PUSH_SERVICE_ACCOUNT,
    SECRET_KEY: TEST_SECRET_KEY,
    GMAIL_SERVICE_ACCOUNT_KEY: google.serviceAccountKey,
    // The backup poll stays out of the way unless a test wants it.
    GMAIL_POLL_INTERVAL: '1h',
    ...extra,
  };
}

export interface GmailWorld {
  world: World;
  google: FakeGoogle;
  sink: WebhookSink;
  mailboxes: MailboxStore;
  /**
   * Consent (fake code) → refresh token → users.watch → stored, exactly as gmail:connect does. `before`
   * runs once the fake mailbox exists (mail received before the connection, user labels); `modify`:
   * the consent grants gmail.modify (`--label-errors`).
   */
  connect(address: string, options?: { before?: () => void; modify?: boolean }): Promise<ConnectedMailbox>;
  /** gmail:connect again for a known mailbox (after needs_reauth): a new consent, the same fake mailbox. */
  reconnect(address: string): Promise<ConnectedMailbox>;
  /** Workspace domain-wide delegation, as `gmail:connect -- --service-account` does. */
  connectDelegated(address: string): Promise<void>;
  /** POSTs a push as Pub/Sub does, signed by the push service account unless told otherwise. */
  push(address: string, historyId: string | number, auth?: { bearer?: string; query?: string }): Promise<number>;
  close(): Promise<void>;
}

export async function startGmailWorld(
  options: { env?: Record<string, string>; world?: Omit<WorldOptions, 'env'> } = {},
): Promise<GmailWorld> {
  const google = await startFakeGoogle();
  const sink = await startWebhookSink();
  const world = await startWorld({ ...options.world, env: { WEBHOOK_URL: sink.url, ...gmailEnv(google, options.env) } });
  const mailboxes = createMailboxStore({ redis: world.workerRedis, prefix: world.prefix, cipher: createCredentialCipher(TEST_SECRET_KEY) });
  const labelFilter = world.workerEnv.GMAIL_LABEL_FILTER;
  const consent = (address: string, modify: boolean) =>
    connectOAuthMailbox({
      address,
      code: google.issueCode(address, { modify }),
      redirectUri: 'http://localhost',
      oauth: { tokenUrl: google.tokenUrl, clientId: 'test-client-id', clientSecret: 'test-client-secret' },
      watch: { gmailBaseUrl: google.url, topicName: TEST_TOPIC, labelIds: labelFilter ? [labelFilter] : [] },
      mailboxes,
    });
  return {
    world,
    google,
    sink,
    mailboxes,
    async connect(address, connectOptions = {}) {
      google.addMailbox(address);
      connectOptions.before?.();
      return consent(address, connectOptions.modify ?? false);
    },
    reconnect: (address) => consent(address, false),
    async connectDelegated(address) {
      google.addMailbox(address);
      await connectDelegatedMailbox({
        address,
        serviceAccount: {
          key: JSON.parse(google.serviceAccountKey) as { client_email: string; private_key: string },
          tokenUrl: google.tokenUrl,
        },
        watch: { gmailBaseUrl: google.url, topicName: TEST_TOPIC, labelIds: ['INBOX'] },
        mailboxes,
      });
    },
    async push(address, historyId, auth = {}) {
      const bearer = auth.bearer ?? (await google.signPushToken({ aud: PUSH_AUDIENCE, email: PUSH_SERVICE_ACCOUNT }));
      const res = await fetch(`${world.apiUrl}/api/ingress/gmail/pubsub${auth.query ? `?token=${encodeURIComponent(auth.query)}` : ''}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(bearer ? { authorization: `Bearer ${bearer}` } : {}) },
        body: JSON.stringify(pushBody(address, historyId)),
      });
      await res.arrayBuffer();
      return res.status;
    },
    async close() {
      await world.close();
      await sink.close();
      await google.close();
    },
  };
}

/** The Gmail message ids of the webhooks the sink received, in order. */
export function deliveredMessageIds(sink: WebhookSink): string[] {
  return sink.received.map((r) => String(r.json?.message_id));
}

export const linkHtml = (label: string) => `<p>${label}: https://www.dropbox.com/scl/fo/${label.replace(/\W/g, '')}/file.zip?dl=0</p>`;
