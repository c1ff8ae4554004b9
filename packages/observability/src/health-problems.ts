/**
 * What needs an operator's attention, in words (French, as the dashboard), from the facts /health
 * gathers. Pure and table-tested; /health only collects the facts.
 */

export interface HealthFacts {
  redisOk: boolean;
  /** Live worker processes (0 when Redis is down: unknown). */
  workers: number;
  /** Failed (dead-letter) jobs across queues, and the threshold above which /health is degraded. */
  deadLetters: number;
  deadLetterThreshold: number;
  hasTarget: boolean;
  /** Targets (masked) whose latest attempts all failed. */
  failingTargets: ReadonlyArray<{ target: string; consecutive_failures: number }>;
  /** Null when the settings could not be read. */
  ingressEnabled: boolean | null;
  sendingEnabled: boolean | null;
  absenceToday: boolean;
  /** Null: no time window configured. */
  withinWindow: boolean | null;
  window: { start?: string | null | undefined; end?: string | null | undefined };
  gmailNeedsReauth: number;
  /** Mailboxes whose watch lapsed (only whether any did is known today). */
  gmailWatchExpired: number;
}

export interface HealthProblem {
  code: string;
  severity: 'critical' | 'warning' | 'info';
  message: string;
  /** Counts in /health's `status` (degraded); notices such as "outside the time window" do not. */
  degrades: boolean;
}

/** A target is "failing repeatedly" after this many failed attempts in a row (newest first). */
export const FAILING_TARGET_STREAK = 3;

/**
 * Per target, failed attempts in a row since its last success, from delivery log entries newest first.
 * Targets with a streak of FAILING_TARGET_STREAK or more, worst first.
 */
export function failingTargets(
  entries: ReadonlyArray<{ status: string; webhook_url: string | null; type?: string }>,
): Array<{ target: string; consecutive_failures: number }> {
  const streaks = new Map<string, { count: number; closed: boolean }>();
  for (const entry of entries) {
    if (!entry.webhook_url || entry.type === 'test' || entry.status === 'skipped') continue;
    const streak = streaks.get(entry.webhook_url) ?? { count: 0, closed: false };
    if (!streak.closed) {
      if (entry.status === 'error') streak.count += 1;
      else streak.closed = true;
    }
    streaks.set(entry.webhook_url, streak);
  }
  return [...streaks]
    .filter(([, s]) => s.count >= FAILING_TARGET_STREAK)
    .map(([target, s]) => ({ target, consecutive_failures: s.count }))
    .sort((a, b) => b.consecutive_failures - a.consecutive_failures);
}

export function healthProblems(f: HealthFacts): HealthProblem[] {
  const out: HealthProblem[] = [];
  const add = (code: string, severity: HealthProblem['severity'], message: string, degrades: boolean) =>
    out.push({ code, severity, message, degrades });
  if (!f.redisOk) {
    add('redis_unavailable', 'critical', 'Redis ne répond pas : aucun e-mail ne peut être accepté ni traité.', true);
    return out;
  }
  if (f.workers === 0) add('no_workers', 'critical', 'Aucun worker actif : les e-mails reçus attendent dans la file.', true);
  if (!f.hasTarget) add('no_webhook_target', 'critical', 'Aucune cible de webhook configurée (ni URL par défaut, ni règle).', true);
  if (f.deadLetters > f.deadLetterThreshold) {
    add(
      'dead_letters_growing',
      'critical',
      `${f.deadLetters} envois en échec définitif (au-delà du seuil de ${f.deadLetterThreshold}).`,
      true,
    );
  } else if (f.deadLetters > 0) {
    add('dead_letters_waiting', 'warning', `${f.deadLetters} envoi(s) en échec définitif attendent une relance ou un examen.`, false);
  }
  for (const t of f.failingTargets) {
    add('target_failing', 'warning', `La cible ${t.target} échoue de façon répétée (${t.consecutive_failures} échecs d’affilée).`, false);
  }
  if (f.ingressEnabled === false) add('ingress_disabled', 'warning', 'L’ingestion est désactivée : les e-mails sont refusés (409).', false);
  if (f.sendingEnabled === false)
    add('sending_disabled', 'warning', 'L’envoi des webhooks est désactivé : les e-mails sont refusés (409).', false);
  if (f.absenceToday) add('absence_today', 'info', 'Jour d’absence aujourd’hui : les e-mails sont refusés jusqu’à demain.', false);
  if (f.withinWindow === false) {
    add(
      'outside_time_window',
      'info',
      `Hors de la fenêtre horaire (${f.window.start ?? '?'}–${f.window.end ?? '?'}) : les e-mails sont retenus selon leur détecteur.`,
      false,
    );
  }
  if (f.gmailNeedsReauth > 0)
    add('gmail_needs_reauth', 'critical', `${f.gmailNeedsReauth} boîte(s) Gmail à réautoriser (npm run gmail:connect).`, true);
  if (f.gmailWatchExpired > 0)
    add(
      'gmail_watch_expired',
      'warning',
      'La surveillance Gmail (watch) d’une boîte au moins a expiré : le renouvellement n’a pas eu lieu.',
      true,
    );
  return out;
}
