import type { TargetHealthView } from '@render-signal/delivery';
import { api, errorMessage } from './api';
import { formatDate, h, labelled, pollWhileVisible, toast } from './dom';

/**
 * « Cibles »: destination health. Each target (masked URL) with its state, success rates over 1 h / 24 h, last error,
 * held deliveries (count, oldest), next probe, and the operator's actions: Pause / Reprendre / Libérer maintenant /
 * Abandonner les envois retenus (with a confirmation stating the count). Refreshed every 5 s while visible.
 */

const REFRESH_MS = 5_000;
export const STATE_LABELS: Record<TargetHealthView['state'], string> = {
  healthy: 'Saine',
  failing: 'En échec',
  paused: 'En pause',
  recovering: 'Rétablie, libération en cours',
};

const originLabel = (origin: string | null) =>
  origin === 'default' ? 'cible par défaut' : origin?.startsWith('rule:') ? `règle ${origin.slice(5)}` : (origin ?? 'origine inconnue');

const rate = (value: number | null, attempts: number) => (value === null ? '—' : `${value} % (${attempts})`);

function lastError(t: TargetHealthView): string {
  if (!t.last_error) return '—';
  const status = t.last_error.status !== undefined ? `HTTP ${t.last_error.status} · ` : '';
  const excerpt = t.last_error.excerpt ? ` · « ${t.last_error.excerpt.slice(0, 80)} »` : '';
  return `${status}${t.last_error.reason}${excerpt}`;
}

export async function mountTargets(root: HTMLElement): Promise<void> {
  const info = h('p', { class: 'status', role: 'status' });
  const body = h('tbody', { 'data-testid': 'target-rows' });
  const table = h(
    'table',
    { class: 'log-table' },
    h('caption', { class: 'sr-only' }, 'État des cibles de webhooks'),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        ...[
          'Cible',
          'État',
          'Succès 1 h',
          'Succès 24 h',
          'Dernière erreur',
          'Retenus',
          'Plus ancien retenu',
          'Prochain essai',
          'Actions',
        ].map((label) => h('th', { scope: 'col' }, label)),
      ),
    ),
    body,
  );

  async function act(target: TargetHealthView, action: 'pause' | 'resume' | 'release' | 'discard'): Promise<void> {
    if (
      action === 'discard' &&
      !window.confirm(
        `Abandonner les ${target.held} envoi(s) retenu(s) pour ${target.target} ? Ils passeront en lettre morte (renvoyables).`,
      )
    )
      return;
    if (action === 'pause' && !window.confirm(`Mettre ${target.target} en pause ? Ses envois seront retenus jusqu'à la reprise.`)) return;
    try {
      const answer = await api<{ message: string }>('POST', `/api/targets/${target.id}/${action}`);
      toast(answer.message);
    } catch (error) {
      toast(errorMessage(error), 'error');
    }
    await refresh();
  }

  function actions(t: TargetHealthView): HTMLElement {
    const button = (label: string, action: 'pause' | 'resume' | 'release' | 'discard', testid: string) =>
      h('button', { type: 'button', 'data-testid': testid, onClick: () => act(t, action) }, label);
    return h(
      'div',
      { class: 'actions' },
      t.state === 'paused' ? null : button('Pause', 'pause', 'target-pause'),
      t.state === 'paused' && t.operator ? button('Reprendre', 'resume', 'target-resume') : null,
      (t.state === 'paused' && !t.operator) || t.state === 'failing' ? button('Libérer maintenant', 'release', 'target-release') : null,
      t.state === 'paused' && t.held > 0 ? button('Abandonner les envois retenus', 'discard', 'target-discard') : null,
    );
  }

  async function refresh(): Promise<void> {
    try {
      const answer = await api<{ targets: TargetHealthView[] }>('GET', '/api/targets');
      body.replaceChildren(
        ...(answer.targets.length === 0 ? [h('tr', {}, h('td', { colspan: 9 }, 'Aucune cible n’a encore reçu d’envoi.'))] : []),
        ...answer.targets.map((t) =>
          h(
            'tr',
            { class: `target-${t.state}`, 'data-target-id': t.id, 'data-state': t.state },
            h('td', {}, h('code', {}, t.target), h('br'), h('small', {}, `${originLabel(t.origin)} · ${t.id}`)),
            h(
              'td',
              {},
              `${STATE_LABELS[t.state]}${t.operator ? ' (opérateur)' : ''}`,
              h('br'),
              h('small', {}, `depuis ${formatDate(t.since)}`),
            ),
            h('td', {}, rate(t.success_rate_1h, t.attempts_1h)),
            h('td', {}, rate(t.success_rate_24h, t.attempts_24h)),
            h('td', {}, lastError(t)),
            h('td', { 'data-testid': 'target-held' }, String(t.held)),
            h('td', {}, formatDate(t.oldest_held_at)),
            h('td', {}, t.operator ? 'aucun (pause opérateur)' : formatDate(t.next_probe_at)),
            h('td', {}, actions(t)),
          ),
        ),
      );
      info.textContent = `Mis à jour à ${new Date().toLocaleTimeString('fr-FR')}.`;
    } catch (error) {
      info.textContent = `Lecture impossible : ${errorMessage(error)}`;
    }
  }

  root.append(
    h('h2', {}, 'Cibles'),
    await alertSettings(),
    h(
      'p',
      { class: 'hint' },
      'Une cible qui échoue de façon répétée est mise en pause : ses envois sont retenus, sans consommer de tentative, et partent d’eux-mêmes, les plus anciens d’abord, quand elle répond de nouveau.',
    ),
    info,
    table,
  );
  await refresh();
  pollWhileVisible(refresh, REFRESH_MS);
}

/**
 * Where alerts go (live, over the env): the alert webhook (Slack, Mattermost, Discord… shows `text`) and the
 * email recipients (SMTP itself is configured on the workers: SMTP_URL). Saved in webhook_config.
 */
async function alertSettings(): Promise<HTMLElement> {
  const { config } = await api<{ config: { alert_webhook_url: string | null; alert_email_to: string } }>('GET', '/api/webhooks/config');
  const url = h('input', {
    type: 'text',
    inputmode: 'url',
    value: '',
    placeholder: config.alert_webhook_url ?? 'aucune (ALERT_WEBHOOK_URL des workers si définie)',
    'data-testid': 'alert-webhook-url',
  });
  const emails = h('input', {
    type: 'text',
    value: config.alert_email_to,
    placeholder: 'ops@example.com, astreinte@example.com',
    'data-testid': 'alert-email-to',
  });
  const result = h('div', { 'aria-live': 'polite', 'data-testid': 'alert-settings-result' });
  const save = async (body: Record<string, unknown>) => {
    try {
      const answer = await api<{ config: { alert_webhook_url: string | null } }>('POST', '/api/webhooks/config', body);
      url.value = '';
      url.placeholder = answer.config.alert_webhook_url ?? 'aucune (ALERT_WEBHOOK_URL des workers si définie)';
      result.replaceChildren(h('p', { class: 'ok' }, 'Destinataires des alertes enregistrés.'));
    } catch (error) {
      result.replaceChildren(h('p', { class: 'field-error', role: 'alert' }, errorMessage(error)));
    }
  };
  return h(
    'form',
    {
      class: 'panel',
      onSubmit: (event: Event) => {
        event.preventDefault();
        // The URL is sent only when edited: the masked value shown is never written back.
        return save({ alert_email_to: emails.value.trim(), ...(url.value.trim() ? { alert_webhook_url: url.value.trim() } : {}) });
      },
    },
    h('h3', {}, 'Alertes'),
    labelled('Webhook des alertes (Slack, Mattermost, Discord…)', url, 'Laissez vide pour garder l’URL actuelle (masquée).'),
    labelled('Alertes par e-mail à', emails, 'Adresses séparées par des virgules ; le serveur SMTP se règle côté workers (SMTP_URL).'),
    h(
      'div',
      { class: 'actions' },
      h('button', { type: 'submit', class: 'primary' }, 'Enregistrer'),
      h(
        'button',
        { type: 'button', class: 'secondary', onClick: () => save({ alert_webhook_url: null }) },
        'Retirer le webhook des alertes',
      ),
    ),
    result,
  );
}
