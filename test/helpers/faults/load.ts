import { randomBytes } from 'node:crypto';
import { TEST_TOKEN } from '../world';

/** What happened to one email the load generator sent. */
export interface SentEmail {
  messageId: string;
  /** Final HTTP status (0 when every attempt failed to connect). */
  status: number;
  /** `status` of the 200 answer (queued, already_processing, already_processed). */
  outcome?: string;
  emailId?: string;
  attempts: number;
  /** Epoch ms of the final answer. */
  answeredAt: number;
  /** 503 answers received before the final one. */
  unavailable: number;
  connectionErrors: number;
}

export interface LoadReport {
  emails: SentEmail[];
  /** email_ids answered 200 (queued or a dedup hit of an earlier accepted attempt): the accepted set. */
  accepted: string[];
  /** Emails that never got a 200 (should be none: the sender retries). */
  rejected: SentEmail[];
  unavailableAnswers: number;
  connectionErrors: number;
  durationMs: number;
}

export interface RetryPolicy {
  /** Upper bound on attempts per email (the sender gives up after it: visible in `rejected`). */
  maxAttempts: number;
  /** Wait between attempts. The real Apps Script waits for its next run; shortened here. */
  delayMs: number;
}

const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 150, delayMs: 200 };

/** A valid ingress payload with a unique Gmail message id (= its email_id) and a Dropbox link, so it is delivered. */
export function faultEmail(label: string, index: number, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    message_id: `${label}-${index}-${randomBytes(4).toString('hex')}`,
    subject: `Fault ${label} #${index}`,
    sender: 'Alice Example <alice@example.org>',
    date: new Date().toISOString(),
    body: `<p>Voici le lien : https://www.dropbox.com/scl/fo/abc${index}/file.zip?dl=0</p>`,
    snippet: 'Voici le lien',
    ...overrides,
  };
}

/**
 * Sends one email like the Apps Script would, but retrying at once on 503 or a connection error (bounded).
 * Any other answer is final.
 */
export async function sendEmail(apiUrl: string, payload: Record<string, unknown>, retry: RetryPolicy = DEFAULT_RETRY): Promise<SentEmail> {
  const sent: SentEmail = {
    messageId: String(payload.message_id ?? ''),
    status: 0,
    attempts: 0,
    answeredAt: 0,
    unavailable: 0,
    connectionErrors: 0,
  };
  const body = JSON.stringify(payload);
  while (sent.attempts < retry.maxAttempts) {
    sent.attempts += 1;
    try {
      const res = await fetch(`${apiUrl}/api/ingress/gmail`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TEST_TOKEN}`, 'content-type': 'application/json' },
        body,
        signal: AbortSignal.timeout(10_000),
      });
      const json = (await res.json().catch(() => ({}))) as { status?: string; email_id?: string };
      sent.status = res.status;
      sent.answeredAt = Date.now();
      if (res.status === 200) {
        sent.outcome = json.status;
        sent.emailId = json.email_id;
        return sent;
      }
      if (res.status !== 503) return sent;
      sent.unavailable += 1;
    } catch {
      sent.connectionErrors += 1;
      sent.status = 0;
    }
    await new Promise((r) => setTimeout(r, retry.delayMs));
  }
  return sent;
}

export interface LoadOptions {
  apiUrl: string;
  /** Emails started per second (open loop: a slow answer does not slow the sender down). */
  ratePerSecond: number;
  durationMs: number;
  label: string;
  email?: (index: number) => Record<string, unknown>;
  retry?: RetryPolicy;
}

/** Sends `ratePerSecond` distinct emails per second for `durationMs`, then waits for every email's final answer. */
export async function runLoad(options: LoadOptions): Promise<LoadReport> {
  const started = Date.now();
  const total = Math.round((options.ratePerSecond * options.durationMs) / 1000);
  const pending: Array<Promise<SentEmail>> = [];
  while (pending.length < total) {
    const elapsed = Date.now() - started;
    const due = Math.min(total, Math.floor((elapsed * options.ratePerSecond) / 1000) + 1);
    while (pending.length < due) {
      const index = pending.length;
      pending.push(sendEmail(options.apiUrl, options.email?.(index) ?? faultEmail(options.label, index), options.retry));
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  const emails = await Promise.all(pending);
  const accepted = [...new Set(emails.filter((e) => e.status === 200 && e.emailId).map((e) => e.emailId!))];
  return {
    emails,
    accepted,
    rejected: emails.filter((e) => e.status !== 200),
    unavailableAnswers: emails.reduce((n, e) => n + e.unavailable, 0),
    connectionErrors: emails.reduce((n, e) => n + e.connectionErrors, 0),
    durationMs: Date.now() - started,
  };
}
