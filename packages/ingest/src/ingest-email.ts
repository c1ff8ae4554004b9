import { computeEmailId, parseSenderAddress, type ArrivalSource, type EmailContent } from '@render-signal/contracts';
import { readSettings, type Settings, type SettingsStore } from '@render-signal/config-store';
import type { Producer, emailQueue } from '@render-signal/queue';
import { weekdayIn } from '@render-signal/routing';
import { acceptEmail, type AcceptStatus } from './accept-email';

export type IngestStatus = AcceptStatus | 'skipped_sender_not_allowed' | 'ingress_disabled' | 'sending_disabled';

export interface IngestResult {
  status: IngestStatus;
  email_id: string;
  job_id?: string;
}

export interface AdmissionPolicy {
  /** Lower-cased sender addresses allowed in; empty = everyone. */
  senderAllowlist: readonly string[];
  timeZone: string;
  now: Date;
}

/**
 * The ingress policies of the original, in its order: ingress disabled → sender not allowed → sending
 * disabled or an absence day (in the configured time zone). Pure: both ingress paths (HTTP and Gmail
 * push) decide the same way.
 */
export function admitEmail(
  email: Pick<EmailContent, 'sender'>,
  settings: Pick<Settings, 'runtime_flags' | 'webhook_config'>,
  policy: AdmissionPolicy,
): 'accept' | 'ingress_disabled' | 'skipped_sender_not_allowed' | 'sending_disabled' {
  if (!settings.runtime_flags.gmail_ingress_enabled) return 'ingress_disabled';
  if (policy.senderAllowlist.length > 0 && !policy.senderAllowlist.includes(parseSenderAddress(email.sender)))
    return 'skipped_sender_not_allowed';
  const config = settings.webhook_config;
  const absentToday =
    config.absence_pause_enabled && (config.absence_pause_days as string[]).includes(weekdayIn(policy.now, policy.timeZone));
  if (!config.webhook_sending_enabled || absentToday) return 'sending_disabled';
  return 'accept';
}

export interface IngestDeps {
  settings: SettingsStore;
  emailProducer: Producer<typeof emailQueue>;
  senderAllowlist: readonly string[];
  timeZone: string;
  dedupWindowMs: number;
  /** `gmail_push` for the Gmail sync; the HTTP ingress leaves it unset (Apps Script). */
  source?: ArrivalSource;
}

/** Policies, then dedup + enqueue in one atomic step: the one way an email enters the pipeline. */
export async function ingestEmail(email: EmailContent, deps: IngestDeps, now = new Date()): Promise<IngestResult> {
  const settings = await readSettings(deps.settings);
  const verdict = admitEmail(email, settings, { senderAllowlist: deps.senderAllowlist, timeZone: deps.timeZone, now });
  if (verdict !== 'accept') return { status: verdict, email_id: computeEmailId(email) };
  return acceptEmail(email, deps.emailProducer, {
    dedupWindowMs: deps.dedupWindowMs,
    dedupDisabled: settings.runtime_flags.disable_email_id_dedup,
    now: now.getTime(),
    ...(deps.source ? { source: deps.source } : {}),
  });
}
