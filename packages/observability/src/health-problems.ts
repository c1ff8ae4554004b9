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
  /** Destination health: targets not healthy (masked), with their held deliveries. */
  targetStates?: ReadonlyArray<{ target: string; state: string; operator: boolean; held: number }>;
  /** Alerts that could not be sent (the alert queue's failed jobs). */
  failedAlerts?: number;
  /** Gmail push: the problem codes of /health's gmail section, and how many mailboxes need re-authorisation. */
  gmail: { problems: readonly string[]; needsReauth: number };
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

/** Gmail push problems (gmail-push.md): each degrades /health, as the mailbox may be missing mail. */
const GMAIL_PROBLEMS: Record<string, { severity: HealthProblem['severity']; message: (needsReauth: number) => string }> = {
  gmail_needs_reauth: {
    severity: 'critical',
    message: (n) => `${n} boîte(s) Gmail à réautoriser (npm run gmail:connect) : le courrier reçu attend et sera lu après.`,
  },
  gmail_watch_expired: {
    severity: 'warning',
    message: () => 'La surveillance Gmail (watch) d’une boîte au moins a expiré : le renouvellement n’a pas eu lieu.',
  },
  gmail_watch_renewal_failed: {
    severity: 'warning',
    message: () => 'Le dernier renouvellement de la surveillance Gmail a échoué : il sera retenté avant l’expiration.',
  },
  gmail_sync_stale: {
    severity: 'warning',
    message: () => 'Une boîte Gmail n’a pas été synchronisée depuis plusieurs intervalles de relève.',
  },
  gmail_resync_truncated: {
    severity: 'warning',
    message: () =>
      'Une resynchronisation Gmail complète a atteint sa limite (GMAIL_RESYNC_MAX_MESSAGES) : des e-mails ont pu être ignorés.',
  },
  gmail_sync_failing: {
    severity: 'critical',
    message: () =>
      'La synchronisation d’une boîte Gmail échoue (par ex. un nom de libellé au lieu d’un identifiant dans GMAIL_LABEL_FILTER).',
  },
};

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
  const tracked = new Set<string>();
  for (const t of f.targetStates ?? []) {
    tracked.add(t.target);
    const held = `${t.held} envoi(s) retenu(s)`;
    if (t.state === 'paused' && t.operator)
      add('target_paused_by_operator', 'warning', `La cible ${t.target} est en pause (opérateur) : ${held} jusqu’à la reprise.`, false);
    else if (t.state === 'paused')
      add(
        'target_paused',
        'critical',
        `La cible ${t.target} ne répond plus : elle est en pause, ${held}, un essai régulier vérifie son retour.`,
        true,
      );
    else if (t.state === 'failing')
      add('target_failing', 'warning', `La cible ${t.target} est en échec : elle sera mise en pause si rien ne passe.`, false);
    else if (t.state === 'recovering')
      add('target_recovering', 'info', `La cible ${t.target} répond de nouveau : ${held} en cours de libération.`, false);
  }
  if ((f.failedAlerts ?? 0) > 0)
    add('alerts_failing', 'warning', `${f.failedAlerts} alerte(s) n’ont pas pu être envoyées (journaux : alert.failed).`, true);
  for (const t of f.failingTargets) {
    if (tracked.has(t.target)) continue;
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
  for (const code of f.gmail.problems) {
    const words = GMAIL_PROBLEMS[code];
    if (words) add(code, words.severity, words.message(f.gmail.needsReauth), true);
    else add(code, 'warning', `Gmail push : ${code}.`, true);
  }
  return out;
}
