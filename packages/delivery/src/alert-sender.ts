import nodemailer, { type Transporter } from 'nodemailer';
import type SMTPTransport from 'nodemailer/lib/smtp-transport';
import type { SendAlertJob } from '@render-signal/contracts';
import { alertMessage } from './alert-message';
import type { WebhookDeliverer } from './deliver-webhook';

/** Where alerts go: a chat/incoming webhook, an email address over SMTP, or both. */
export interface AlertChannels {
  webhookUrl?: string | undefined;
  /** Signs the alert webhook like our deliveries (Standard Webhooks). */
  webhookSecret?: string | undefined;
  smtpUrl?: string | undefined;
  emailTo?: string | undefined;
  emailFrom: string;
}

export type AlertChannel = 'webhook' | 'email';

export interface AlertSenderOptions {
  /** The delivery's sender: same SSRF guard, timeouts and signing as webhook targets. */
  deliverer: Pick<WebhookDeliverer, 'deliverWebhook'>;
  /** Read per alert: the live settings over the env. */
  channels(): Promise<AlertChannels>;
  /** PUBLIC_BASE_URL: the dashboard link in every alert. */
  dashboardBaseUrl?: string | undefined;
  /** Per SMTP send. */
  timeoutMs?: number;
}

export interface AlertSender {
  /**
   * Sends one alert on every configured channel. A channel already done (`done`) is skipped, so a retry after one
   * channel failed does not send the other twice. Answers the channels sent now; throws when one failed (after
   * trying each), naming it.
   */
  send(alert: SendAlertJob, alertId: string, done?: ReadonlySet<AlertChannel>): Promise<AlertChannel[]>;
  close(): void;
}

export class AlertChannelError extends Error {
  constructor(
    readonly failed: Array<{ channel: AlertChannel; error: string }>,
    readonly sent: AlertChannel[],
  ) {
    super(failed.map((f) => `${f.channel}: ${f.error}`).join('; '));
    this.name = 'AlertChannelError';
  }
}

export function createAlertSender(options: AlertSenderOptions): AlertSender {
  const transports = new Map<string, Transporter>();
  const transportFor = (url: string) => {
    let transport = transports.get(url);
    if (!transport) {
      const timeout = options.timeoutMs ?? 15_000;
      const smtp: SMTPTransport.Options = { url, connectionTimeout: timeout, greetingTimeout: timeout, socketTimeout: timeout };
      transport = nodemailer.createTransport(smtp);
      transports.set(url, transport);
    }
    return transport;
  };
  return {
    async send(alert, alertId, done = new Set()) {
      const channels = await options.channels();
      const message = alertMessage(alert, options.dashboardBaseUrl);
      const sent: AlertChannel[] = [];
      const failed: Array<{ channel: AlertChannel; error: string }> = [];
      if (channels.webhookUrl && !done.has('webhook')) {
        try {
          await options.deliverer.deliverWebhook({
            target: {
              url: channels.webhookUrl,
              origin: 'alert',
              mode: 'json',
              fallback_on_415: false,
              tls_verify: true,
              require_success_flag: false,
            },
            webhookId: alertId,
            body: Buffer.from(JSON.stringify(message.json), 'utf8'),
            ...(channels.webhookSecret ? { secret: channels.webhookSecret } : {}),
          });
          sent.push('webhook');
        } catch (error) {
          failed.push({ channel: 'webhook', error: error instanceof Error ? error.message : String(error) });
        }
      }
      if (channels.smtpUrl && channels.emailTo && !done.has('email')) {
        try {
          await transportFor(channels.smtpUrl).sendMail({
            from: channels.emailFrom,
            to: channels.emailTo,
            subject: message.subject,
            text: message.text,
            headers: { 'X-Render-Signal-Alert': alertId },
          });
          sent.push('email');
        } catch (error) {
          failed.push({ channel: 'email', error: error instanceof Error ? error.message : String(error) });
        }
      }
      if (failed.length > 0) throw new AlertChannelError(failed, sent);
      return sent;
    },
    close() {
      for (const transport of transports.values()) transport.close();
      transports.clear();
    },
  };
}
