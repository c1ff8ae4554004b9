import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import type { SendAlertJob } from '@render-signal/contracts';
import { alertMessage, frenchDuration } from './alert-message';
import { AlertChannelError, createAlertSender, type AlertChannels } from './alert-sender';
import { createWebhookDeliverer } from './deliver-webhook';
import { signWebhook } from './signing';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const AT = Date.UTC(2026, 11, 8, 0, 30);
const paused: SendAlertJob = {
  event: 'target.paused',
  at: AT,
  target: 'https://hook.eu2.make.com/***',
  state: 'paused',
  held: 42,
  since: AT - 600_000,
  last_error: { status: 503, reason: 'upstream_server_error', excerpt: 'Scenario is off' },
};

describe('alert messages (French, target masked, dashboard link)', () => {
  it.each([
    ['target.failing', { ...paused, event: 'target.failing', state: 'failing' }, ['Cible en échec', 'échoue depuis', 'HTTP 503']],
    ['target.paused', paused, ['Cible en pause', 'est en pause', '42 envois', 'Scenario is off']],
    ['target.paused by an operator', { ...paused, operator: true }, ['mise en pause par un opérateur']],
    [
      'target.recovered',
      { ...paused, event: 'target.recovered', state: 'recovering' },
      ['Cible rétablie', 'après 10 min de panne', '42 envois retenus partent'],
    ],
    [
      'dead_letters.digest',
      { event: 'dead_letters.digest', at: AT, digest: [{ target: 'https://a.example/***', reason: 'target_paused_too_long', count: 3 }] },
      ['3 envois abandonnés', 'https://a.example/*** : 3 envois (target_paused_too_long)'],
    ],
  ] as Array<[string, SendAlertJob, string[]]>)('%s', (_name, alert, phrases) => {
    const message = alertMessage(alert, 'https://signal.example.com');
    for (const phrase of phrases) expect(`${message.subject}\n${message.text}`).toContain(phrase);
    expect(message.json).toMatchObject({ event: alert.event, dashboard_url: 'https://signal.example.com/dashboard/#targets' });
    expect(message.json.text).toBe(message.text);
    expect(message.text).toContain('Tableau de bord : https://signal.example.com/dashboard/#targets');
  });
  it('durations', () => {
    expect([frenchDuration(45_000), frenchDuration(12 * 60_000), frenchDuration(90 * 60_000), frenchDuration(3 * 86_400_000)]).toEqual([
      '45 s',
      '12 min',
      '1 h 30 min',
      '3 j',
    ]);
  });
});

describe('alert channels: a loopback webhook (signed) and a local SMTP server', () => {
  let http: Server;
  let httpUrl: string;
  const posts: Array<{ headers: Record<string, unknown>; body: string }> = [];
  let httpStatus = 200;
  let smtp: SMTPServer;
  let smtpPort: number;
  const mails: string[] = [];
  beforeAll(async () => {
    http = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        posts.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
        res.writeHead(httpStatus).end('ok');
      });
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    httpUrl = `http://127.0.0.1:${(http.address() as AddressInfo).port}/alerts`;
    smtp = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      onData(stream, _session, callback) {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          mails.push(Buffer.concat(chunks).toString('utf8'));
          callback();
        });
      },
    });
    await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
    smtpPort = (smtp.server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => http.close(() => resolve()));
    await new Promise<void>((resolve) => smtp.close(() => resolve()));
  });

  const sender = (channels: Partial<AlertChannels>, allowPrivateNetwork = true) =>
    createAlertSender({
      deliverer: createWebhookDeliverer({ allowPrivateNetwork, timeoutMs: 5_000, userAgent: 'test' }),
      channels: async () => ({ emailFrom: 'Render Signal <alerts@example.com>', ...channels }),
      dashboardBaseUrl: 'https://signal.example.com',
      timeoutMs: 5_000,
    });

  it('sends on both channels; the webhook is signed like our deliveries', async () => {
    const s = sender({ webhookUrl: httpUrl, webhookSecret: SECRET, smtpUrl: `smtp://127.0.0.1:${smtpPort}`, emailTo: 'ops@example.com' });
    expect(await s.send(paused, 'abc.target.paused.7')).toEqual(['webhook', 'email']);
    s.close();
    const post = posts.at(-1)!;
    const body = JSON.parse(post.body) as Record<string, unknown>;
    expect(body).toMatchObject({ event: 'target.paused', target: 'https://hook.eu2.make.com/***', state: 'paused', held: 42 });
    expect(body.since).toBe(new Date(AT - 600_000).toISOString());
    expect(String(body.text)).toContain('est en pause');
    expect(post.headers['webhook-id']).toBe('abc.target.paused.7');
    const timestamp = Number(post.headers['webhook-timestamp']);
    expect(post.headers['webhook-signature']).toBe(signWebhook(SECRET, 'abc.target.paused.7', timestamp, Buffer.from(post.body)));
    const mail = mails.at(-1)!;
    expect(mail).toContain('To: ops@example.com');
    expect(mail).toMatch(/Subject: =\?UTF-8\?|Subject: \[Render Signal\]/);
    expect(mail).toContain('X-Render-Signal-Alert: abc.target.paused.7');
  });

  it('a failing channel throws (naming it) after trying the other; a channel already done is skipped', async () => {
    httpStatus = 503;
    const s = sender({ webhookUrl: httpUrl, smtpUrl: `smtp://127.0.0.1:${smtpPort}`, emailTo: 'ops@example.com' });
    const mailsBefore = mails.length;
    const error = await s.send(paused, 'x.1').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AlertChannelError);
    expect((error as AlertChannelError).sent).toEqual(['email']);
    expect((error as AlertChannelError).message).toContain('webhook');
    expect(mails.length).toBe(mailsBefore + 1);
    httpStatus = 200;
    expect(await s.send(paused, 'x.1', new Set(['email']))).toEqual(['webhook']);
    expect(mails.length).toBe(mailsBefore + 1);
    s.close();
  });

  it('the alert URL goes through the network policy: a private address is refused without ALLOW_PRIVATE_NETWORK', async () => {
    const before = posts.length;
    const error = await sender({ webhookUrl: httpUrl }, false)
      .send(paused, 'x.2')
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AlertChannelError);
    expect(String((error as Error).message)).toMatch(/webhook: .*blocked_target/);
    expect(posts.length).toBe(before);
  });

  it('an SMTP server that is not there is a failed channel', async () => {
    const error = await sender({ smtpUrl: 'smtp://127.0.0.1:1', emailTo: 'ops@example.com' })
      .send(paused, 'x.3')
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AlertChannelError);
    expect((error as AlertChannelError).failed[0]!.channel).toBe('email');
  });
});
