import type { SendAlertJob } from '@render-signal/contracts';

/** An alert as every channel sends it: the chat webhook's JSON (with `text`), and the email's subject and body. */
export interface AlertMessage {
  subject: string;
  text: string;
  json: {
    event: SendAlertJob['event'];
    target: string | null;
    state: string | null;
    held: number | null;
    since: string | null;
    dashboard_url: string | null;
    text: string;
    digest?: SendAlertJob['digest'];
  };
}

const PARIS = 'Europe/Paris';

/** « 8 déc. 2026 à 01:12 » in Paris time, as the dashboard shows dates. */
export function frenchDate(ms: number): string {
  return new Intl.DateTimeFormat('fr-FR', { dateStyle: 'medium', timeStyle: 'short', timeZone: PARIS }).format(new Date(ms));
}

/** « 1 h 30 min », « 12 min », « 45 s ». */
export function frenchDuration(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  if (hours < 48) return rest ? `${hours} h ${rest} min` : `${hours} h`;
  return `${Math.round(hours / 24)} j`;
}

const plural = (n: number, one: string, many: string) => `${n} ${n > 1 ? many : one}`;

function errorText(error: SendAlertJob['last_error']): string {
  if (!error) return '';
  const status = error.status !== undefined ? `HTTP ${error.status}, ` : '';
  return ` Dernière erreur : ${status}${error.reason}${error.excerpt ? ` (« ${error.excerpt.slice(0, 120)} »)` : ''}.`;
}

/** The French message of an alert; `dashboardBaseUrl` (PUBLIC_BASE_URL) adds the link to the « Cibles » view. */
export function alertMessage(alert: SendAlertJob, dashboardBaseUrl?: string): AlertMessage {
  const dashboardUrl = dashboardBaseUrl ? `${dashboardBaseUrl.replace(/\/$/, '')}/dashboard/#targets` : null;
  const target = alert.target ?? 'cible inconnue';
  const held = alert.held ?? 0;
  let subject: string;
  let body: string;
  switch (alert.event) {
    case 'target.failing':
      subject = `[Render Signal] Cible en échec : ${target}`;
      body =
        `La cible ${target} échoue depuis ${frenchDate(alert.since ?? alert.at)}.${errorText(alert.last_error)} ` +
        `Les envois continuent avec leurs nouvelles tentatives ; elle sera mise en pause si rien ne passe.`;
      break;
    case 'target.paused':
      subject = `[Render Signal] Cible en pause : ${target}`;
      body = alert.operator
        ? `La cible ${target} a été mise en pause par un opérateur. Ses envois sont retenus (${plural(held, 'envoi', 'envois')} pour l'instant) jusqu'à la reprise.`
        : `La cible ${target} ne répond plus depuis ${frenchDate(alert.since ?? alert.at)} : elle est en pause.${errorText(alert.last_error)} ` +
          `Ses envois sont retenus (${plural(held, 'envoi', 'envois')} pour l'instant) et partiront d'eux-mêmes à son retour ; un essai est fait régulièrement.`;
      break;
    case 'target.recovered': {
      const duration = alert.since !== undefined ? ` après ${frenchDuration(alert.at - alert.since)} de panne` : '';
      subject = `[Render Signal] Cible rétablie : ${target}`;
      body = alert.operator
        ? `La cible ${target} a été reprise par un opérateur : ${plural(held, 'envoi retenu part', 'envois retenus partent')} maintenant.`
        : `La cible ${target} répond de nouveau${duration}. ${plural(held, 'envoi retenu part', 'envois retenus partent')} maintenant, les plus anciens d'abord.`;
      break;
    }
    case 'dead_letters.digest': {
      const lines = (alert.digest ?? []).map((d) => `- ${d.target} : ${plural(d.count, 'envoi', 'envois')} (${d.reason})`);
      const total = (alert.digest ?? []).reduce((sum, d) => sum + d.count, 0);
      subject = `[Render Signal] ${plural(total, 'envoi abandonné', 'envois abandonnés')}`;
      body = `${plural(total, 'envoi est parti', 'envois sont partis')} en lettre morte depuis le dernier résumé :\n${lines.join('\n')}\nIls peuvent être renvoyés depuis le tableau de bord ou avec npm run replay.`;
      break;
    }
  }
  const text = dashboardUrl ? `${body}\nTableau de bord : ${dashboardUrl}` : body;
  return {
    subject,
    text,
    json: {
      event: alert.event,
      target: alert.target ?? null,
      state: alert.state ?? null,
      held: alert.held ?? null,
      since: alert.since !== undefined ? new Date(alert.since).toISOString() : null,
      dashboard_url: dashboardUrl,
      text,
      ...(alert.digest ? { digest: alert.digest } : {}),
    },
  };
}
