import { createHmac, hash } from 'node:crypto';

/**
 * Standard Webhooks (https://www.standardwebhooks.com): the receiver verifies
 * `v1,base64(HMAC-SHA256(base64decode(secret without "whsec_"), "<id>.<timestamp>.<body>"))`.
 */
export function signWebhook(secret: string, webhookId: string, timestampSeconds: number, body: Buffer): string {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const mac = createHmac('sha256', key);
  mac.update(`${webhookId}.${timestampSeconds}.`);
  mac.update(body);
  return `v1,${mac.digest('base64')}`;
}

/** Stable per (email, target): a retried or replayed delivery keeps its id, so receivers can dedup on it. */
export function webhookIdFor(emailId: string, targetUrl: string): string {
  return `msg_${hash('sha256', `${emailId}\n${targetUrl}`, 'hex').slice(0, 32)}`;
}
