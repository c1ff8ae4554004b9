// What a payload format costs the worker per email (issue 27): the pure per-email path of an email job with one
// rule target — plan (detect, links, rules with the named-group extraction), build the delivery, make the body the
// attempt sends (`attemptBody`: standard serialised as before, flat, or the JSONata template rendered) — timed with
// process.cpuUsage over --payload-emails emails (default 20 000) after a warm-up, 5 rounds alternating the variants.
// "today" is the code path before formats existed (the standard body serialised with Buffer.from(JSON.stringify)).
import { DEFAULT_PROCESSING_PREFS, DEFAULT_RUNTIME_FLAGS, DEFAULT_WEBHOOK_CONFIG, type PayloadSettings } from '@render-signal/contracts';
import type { Settings } from '@render-signal/config-store';
import { attemptBody, createPayloadRenderer } from '@render-signal/delivery';
import { DEFAULT_PROVIDERS } from '@render-signal/detectors';
import { buildDeliveries, formatFields, planEmail, type PlanContext } from '@render-signal/pipeline';
import { normalizeRules } from '@render-signal/routing';

/** The three-field template. */
export const THREE_FIELD_TEMPLATE = '{ "numero": extracted.numero, "client": sender_email, "lien": delivery_links[0].raw_url }';

type Variant = 'today' | 'standard' | 'extracting' | 'flat' | 'template';
const VARIANTS: Variant[] = ['today', 'standard', 'extracting', 'flat', 'template'];
const LABELS: Record<Variant, string> = {
  today: 'today (a rule as the original wrote it, body serialised as before formats existed)',
  standard: 'standard (the same rule, the body made by attemptBody)',
  extracting: 'standard, the rule regex with a named group (extraction runs, the body unchanged)',
  flat: 'flat, with the named group',
  template: 'template of three fields, with the named group',
};

function settingsFor(payload: PayloadSettings | undefined, namedGroup: boolean): Settings {
  const meta = { _updated_at: null, _revision: 0 };
  const rules = normalizeRules(
    [
      {
        id: 'factures',
        name: 'Factures',
        conditions: [{ field: 'subject', operator: 'regex', value: namedGroup ? 'facture\\s+(?<numero>\\d{4})' : 'facture\\s+\\d{4}' }],
        actions: { webhook_url: 'https://hook.eu2.make.com/abcdefghijklmnop', stop_processing: true, ...(payload ? { payload } : {}) },
      },
    ],
    { allowPrivateNetwork: true },
  );
  if (!rules.ok) throw new Error(rules.message);
  return {
    webhook_config: { ...DEFAULT_WEBHOOK_CONFIG, ...meta },
    processing_prefs: { ...DEFAULT_PROCESSING_PREFS, ...meta },
    runtime_flags: { ...DEFAULT_RUNTIME_FLAGS, ...meta },
    routing_rules: { rules: rules.rules, ...meta },
  } as Settings;
}

const FORMATS: Record<Variant, PayloadSettings | undefined> = {
  today: undefined,
  standard: undefined,
  extracting: undefined,
  flat: { format: 'flat' },
  template: { format: 'template', template: THREE_FIELD_TEMPLATE },
};

export interface PayloadBenchResult {
  /** Worker CPU per email (µs) of the whole per-email path, per variant (median of the rounds). */
  perEmailUs: Record<Variant, number>;
  /** Max − min of today's rounds (µs): the noise a difference is read against. */
  todaySpreadUs: number;
}

export async function benchPayload(options: { emails: number; rounds?: number }): Promise<PayloadBenchResult> {
  const renderer = createPayloadRenderer({ timeoutMs: 50, maxBodyBytes: 5 * 1024 * 1024 });
  const body = `<p>Bonjour,</p><p>${'Veuillez trouver la facture du mois. '.repeat(40)}</p> https://www.dropbox.com/scl/fo/abc123/facture.zip?dl=0`;
  const job = (i: number) => ({
    email_id: `bench-${i}`,
    email: { subject: `Votre facture 2026 — dossier ${i}`, sender: 'Compta <compta@client.fr>', date: '2026-12-07T09:00:00Z', body },
  });
  const contexts = Object.fromEntries(
    VARIANTS.map((v) => [
      v,
      {
        settings: settingsFor(FORMATS[v], v !== 'today' && v !== 'standard'),
        providers: DEFAULT_PROVIDERS,
        timeZone: 'Europe/Paris',
        defaultTarget: 'https://hook.eu2.make.com/default',
        timeWindow: {},
        defaultTimeoutMs: 30_000,
        fieldScanLimit: 256 * 1024,
        now: new Date('2026-12-07T10:00:00Z'),
      } satisfies PlanContext,
    ]),
  ) as Record<Variant, PlanContext>;

  async function one(variant: Variant, i: number): Promise<number> {
    const input = job(i);
    const plan = planEmail(input, contexts[variant]);
    if (plan.skip) throw new Error(`skipped: ${plan.skip.reason}`);
    const [delivery] = buildDeliveries(input, plan, plan.links);
    if (variant === 'today') return Buffer.from(JSON.stringify(delivery!.payload), 'utf8').length;
    const made = attemptBody({ ...delivery!, ...formatFields(delivery!), webhook_id: delivery!.webhookId }, renderer);
    return (typeof made === 'function' ? await made() : made).length;
  }

  async function run(variant: Variant, emails: number): Promise<number> {
    const start = process.cpuUsage();
    for (let i = 0; i < emails; i++) await one(variant, i);
    const used = process.cpuUsage(start);
    return (used.user + used.system) / emails;
  }

  for (const variant of VARIANTS) await run(variant, Math.min(2_000, options.emails)); // JIT warm-up
  const rounds = options.rounds ?? 5;
  const samples = Object.fromEntries(VARIANTS.map((v) => [v, [] as number[]])) as Record<Variant, number[]>;
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? VARIANTS : [...VARIANTS].reverse();
    for (const variant of order) samples[variant].push(await run(variant, options.emails));
  }
  const median = (list: number[]) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)]!;
  const perEmailUs = Object.fromEntries(VARIANTS.map((v) => [v, median(samples[v])])) as Record<Variant, number>;

  console.log(
    `\n## Payload formats (worker CPU per email: plan + build + body, one rule target; ${options.emails} emails × ${rounds} rounds)`,
  );
  for (const v of VARIANTS) {
    const delta =
      v === 'today'
        ? ''
        : `   vs today ${perEmailUs[v] - perEmailUs.today >= 0 ? '+' : ''}${(perEmailUs[v] - perEmailUs.today).toFixed(1)} µs`;
    console.log(
      `${perEmailUs[v].toFixed(1).padStart(6)} µs/email  ${LABELS[v]} (rounds ${samples[v].map((s) => s.toFixed(1)).join(', ')})${delta}`,
    );
  }
  return { perEmailUs, todaySpreadUs: Math.max(...samples.today) - Math.min(...samples.today) };
}
