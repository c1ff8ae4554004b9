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
  /** Gmail push: one entry per mailbox problem (from /health's gmail section). */
  gmail: { problems: readonly GmailMailboxProblem[] };
}

/** One problem of one mailbox, with what its words need (the address is masked: /health is public). */
export type GmailMailboxProblem = { mailbox: string } & (
  | { code: 'gmail_needs_reauth'; lastError: string | null }
  | { code: 'gmail_watch_expired'; watchExpiresAt: number }
  | { code: 'gmail_watch_renewal_failed'; renewalError: string | null; watchExpiresAt: number | null }
  | { code: 'gmail_sync_stale'; lastSyncAt: number | null }
  | {
      code: 'gmail_resync_truncated';
      gap: { from: number; to: number; at_least: number; reasons: ReadonlyArray<'dedup_window' | 'max_messages'> };
    }
  | { code: 'gmail_sync_failing'; syncError: string }
  | { code: 'gmail_rate_limited'; until: number }
);

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

const when = (ms: number | null) => (ms ? `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC` : 'jamais');

/**
 * The words of the two things Gmail gives no way to read back after a gap whose history expired
 * (gmail-push.md, « Ce qui peut encore manquer »): said with every truncation notice.
 */
export const GMAIL_GAP_LIMITS =
  'Ne sont jamais relus après l’expiration de l’historique : un e-mail arrivé puis archivé ou supprimé pendant l’interruption, ' +
  'et un e-mail reçu avant la connexion de la boîte (ou avant DEDUP_WINDOW_DAYS) qui a reçu le libellé surveillé pendant l’interruption.';

/**
 * A Gmail push problem of one mailbox in words, with the action to take (gmail-push.md). All but the
 * rate-limit notice degrade /health: the mailbox may be missing mail.
 */
export function gmailProblemWords(p: GmailMailboxProblem): { severity: HealthProblem['severity']; message: string; degrades: boolean } {
  const box = `Boîte Gmail ${p.mailbox}`;
  switch (p.code) {
    case 'gmail_needs_reauth':
      return {
        severity: 'critical',
        degrades: true,
        message: `${box} : Google refuse l’autorisation (${p.lastError ?? 'inconnu'}). Action : relancer npm run gmail:connect pour cette boîte ; le courrier reçu entre-temps sera lu ensuite.`,
      };
    case 'gmail_watch_expired':
      return {
        severity: 'warning',
        degrades: true,
        message: `${box} : la surveillance Gmail (watch) a expiré le ${when(p.watchExpiresAt)} ; seule la relève de secours lit le courrier. Action : vérifier GMAIL_PUBSUB_TOPIC et les droits du sujet Pub/Sub, puis relancer npm run gmail:connect.`,
      };
    case 'gmail_watch_renewal_failed':
      return {
        severity: 'warning',
        degrades: true,
        message: `${box} : le renouvellement de la surveillance a échoué (${p.renewalError ?? 'erreur inconnue'}) ; il sera retenté avant l’expiration (${when(p.watchExpiresAt)}). Action : si l’échec persiste, vérifier le sujet Pub/Sub et ses droits.`,
      };
    case 'gmail_sync_stale':
      return {
        severity: 'warning',
        degrades: true,
        message: `${box} : aucune synchronisation réussie depuis ${when(p.lastSyncAt)}. Action : vérifier que les workers tournent et lire les journaux gmail.sync (Google indisponible ?).`,
      };
    case 'gmail_resync_truncated': {
      const why = [
        ...(p.gap.reasons.includes('dedup_window') ? ['plus ancien que DEDUP_WINDOW_DAYS'] : []),
        ...(p.gap.reasons.includes('max_messages') ? ['au-delà de GMAIL_RESYNC_MAX_MESSAGES'] : []),
      ].join(', ');
      return {
        severity: 'warning',
        degrades: true,
        message: `${box} : une resynchronisation complète n’a pas lu au moins ${p.gap.at_least} e-mail(s) reçu(s) du ${when(p.gap.from)} au ${when(p.gap.to)} (${why}). Action : les vérifier à la main dans Gmail, puis acquitter l’alerte dans le tableau de bord. ${GMAIL_GAP_LIMITS}`,
      };
    }
    case 'gmail_sync_failing':
      return {
        severity: 'critical',
        degrades: true,
        message: `${box} : la synchronisation échoue : ${p.syncError}. Action : corriger la configuration indiquée, la boîte reprend alors seule.`,
      };
    case 'gmail_rate_limited':
      return {
        severity: 'info',
        degrades: false,
        message: `${box} : Google demande d’attendre jusqu’au ${when(p.until)} (limite de débit) ; la synchronisation reprendra alors d’elle-même.`,
      };
  }
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
  for (const problem of f.gmail.problems) {
    const words = gmailProblemWords(problem);
    add(problem.code, words.severity, words.message, words.degrades);
  }
  return out;
}
