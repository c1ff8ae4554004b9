import { api, ApiRequestError, errorMessage } from './api';
import { formatDate, h, labelled, select, toast } from './dom';

/**
 * Bulk replay on the E-mails tab: « Renvoyer les N e-mails de ce filtre » → the preview (count per target, first
 * ones, what retention hides), the payload choice and the pace → a progress bar with « Annuler »; and the
 * « Renvois » list of past and running replays. The API: POST /api/replays (dry_run), GET /api/replays[/:id],
 * POST /api/replays/:id/cancel.
 */

/** The E-mails list's filter as the search form holds it. */
export interface ListFilter {
  query: string;
  status: string;
  since: string;
  until: string;
}

interface Preview {
  count: number;
  emails: number;
  per_target: Array<{ target_id: string; target: string; count: number }>;
  sample: Array<{ email_id: string; target: string; received_at: string; subject: string }>;
  notes: {
    journeys_kept_days: number;
    journeys_max_entries: number;
    oldest_journey_at: string | null;
    dead_letters_kept: number;
    dead_letters_outside_journeys: number;
  };
}

interface Replay {
  id: string;
  who: string;
  created_at: string;
  filter: Record<string, unknown>;
  payload: string;
  rate_per_s: number;
  state: 'running' | 'done' | 'cancelled' | 'failed';
  total: number;
  sent: number;
  delivered: number;
  failed: number;
  skipped: number;
  remaining: number;
  started_at: string | null;
  finished_at: string | null;
}

export const REPLAY_STATUS_LABELS: Record<string, string> = {
  dead_lettered: 'En échec définitif (lettres mortes)',
  failed_attempts: 'Avec au moins un échec (livrés ensuite ou non)',
  delivered: 'Livrés',
  any: 'Tous les envois',
};
const STATE_LABELS: Record<Replay['state'], string> = {
  running: 'En cours',
  done: 'Terminé',
  cancelled: 'Annulé',
  failed: 'Échoué',
};
const STATE_BADGE: Record<Replay['state'], string> = { running: 'info', done: 'success', cancelled: 'skipped', failed: 'error' };

/** The API's refusal codes, in French. */
export const REPLAY_ERRORS: Record<string, string> = {
  invalid_status: 'Statut inconnu : choisissez un statut de la liste.',
  invalid_range: 'La date de début est postérieure à la date de fin.',
  invalid_date: 'Date invalide (AAAA-MM-JJ ou date-heure ISO).',
  invalid_rate: 'Le rythme doit être supérieur à 0 envoi par seconde.',
  rate_too_high: 'Rythme trop élevé pour ce déploiement (REPLAY_MAX_RATE_PER_S).',
  invalid_target: 'Cible invalide : une URL de webhook ou un identifiant tgt_….',
  unknown_rule: 'Aucune règle de routage ne porte cet identifiant ou ce nom.',
  replay_not_found: 'Ce renvoi groupé n’existe pas (ou plus).',
  invalid_request: 'Requête invalide.',
};
const frenchError = (error: unknown) =>
  error instanceof ApiRequestError && REPLAY_ERRORS[error.code] ? REPLAY_ERRORS[error.code]! : errorMessage(error);

/** The emails list's status → the replay's (a list of failures means dead letters). */
function replayStatusFor(listStatus: string): string {
  if (listStatus === 'delivered') return 'delivered';
  if (listStatus === 'retrying') return 'failed_attempts';
  return 'dead_lettered';
}

const shownFilter = (f: Record<string, unknown>) =>
  Object.entries(f)
    .filter(([, v]) => v !== undefined && v !== '')
    .map(([k, v]) => `${k}: ${String(v)}`)
    .join(', ');

export interface ReplaysPanel {
  /** The list's filter changed (a search ran): counts what it would replay, for the button's label. */
  filterChanged(filter: ListFilter): Promise<void>;
}

export function mountReplays(root: HTMLElement): ReplaysPanel {
  let listFilter: ListFilter = { query: '', status: '', since: '', until: '' };
  const openButton = h(
    'button',
    { type: 'button', class: 'secondary', 'data-testid': 'replay-open', onClick: () => openPreview() },
    'Renvoyer les e-mails de ce filtre',
  );
  const status = select(
    Object.entries(REPLAY_STATUS_LABELS).map(([v, l]): [string, string] => [v, l]),
    'dead_lettered',
    { 'data-testid': 'replay-status' },
  );
  const target = h('input', { type: 'text', placeholder: 'URL de la cible ou tgt_…', 'data-testid': 'replay-target' });
  const payload = select(
    [
      ['original', 'Contenu d’origine (même corps, même webhook-id)'],
      ['current', 'Contenu actuel (replanifié avec les règles et réglages d’aujourd’hui)'],
    ],
    'original',
    { 'data-testid': 'replay-payload' },
  );
  const rate = h('input', { type: 'number', min: '0.1', step: '0.1', value: '10', 'data-testid': 'replay-rate' });
  const previewBody = h('div', { 'data-testid': 'replay-preview-body' });
  const error = h('p', { class: 'status error', role: 'alert', 'data-testid': 'replay-error', hidden: true });
  const startButton = h(
    'button',
    { type: 'button', class: 'primary', 'data-testid': 'replay-start', disabled: true, onClick: () => start() },
    'Lancer le renvoi',
  );
  const previewPanel: HTMLElement = h(
    'section',
    { class: 'panel', 'data-testid': 'replay-preview', hidden: true, 'aria-labelledby': 'replay-preview-title' },
    h('h3', { id: 'replay-preview-title' }, 'Aperçu du renvoi groupé'),
    h(
      'div',
      { class: 'grid-search' },
      labelled('Envois à renvoyer', status),
      labelled('Cible (facultatif)', target, 'Une URL de webhook ou son identifiant tgt_….'),
      labelled('Contenu envoyé', payload),
      labelled('Rythme (envois par seconde)', rate, 'Les limites propres à chaque cible s’appliquent toujours.'),
    ),
    h('button', { type: 'button', class: 'secondary', onClick: () => preview() }, 'Mettre à jour l’aperçu'),
    error,
    previewBody,
    h(
      'div',
      { class: 'actions' },
      startButton,
      h('button', { type: 'button', class: 'secondary', onClick: () => void (previewPanel.hidden = true) }, 'Fermer'),
    ),
  );
  const bar = h('progress', { max: 1, value: 0, 'data-testid': 'replay-progress-bar' });
  const progressText = h('p', { 'data-testid': 'replay-progress-text', role: 'status' });
  const cancelButton = h('button', { type: 'button', class: 'danger', 'data-testid': 'replay-cancel', onClick: () => cancel() }, 'Annuler');
  const progressPanel = h(
    'section',
    { class: 'panel', 'data-testid': 'replay-progress', hidden: true, 'aria-live': 'polite' },
    h('h3', {}, 'Renvoi groupé en cours'),
    bar,
    progressText,
    cancelButton,
  );
  const historyRows = h('tbody', { 'data-testid': 'replay-rows' });
  const history = h(
    'section',
    { 'aria-labelledby': 'replays-title', 'data-testid': 'replays' },
    h('h3', { id: 'replays-title' }, 'Renvois'),
    h(
      'div',
      { class: 'table-wrap' },
      h(
        'table',
        {},
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ...['Lancé le', 'Par', 'Filtre', 'Contenu', 'État', 'Envoyés', 'Livrés', 'Échecs', 'Restants'].map((l) =>
              h('th', { scope: 'col' }, l),
            ),
          ),
        ),
        historyRows,
      ),
    ),
  );
  root.append(h('div', { class: 'actions' }, openButton), previewPanel, progressPanel, history);

  let current: string | null = null;
  let timer: number | undefined;

  const request = (dryRun: boolean) => ({
    filter: {
      status: status.value,
      ...(target.value.trim() ? { target: target.value.trim() } : {}),
      ...(listFilter.query ? { query: listFilter.query } : {}),
      ...(listFilter.since ? { since: listFilter.since } : {}),
      ...(listFilter.until ? { until: listFilter.until } : {}),
    },
    payload: payload.value,
    rate_per_s: Number(rate.value),
    dry_run: dryRun,
  });

  async function preview(): Promise<void> {
    error.hidden = true;
    startButton.disabled = true;
    let answer: Preview;
    try {
      answer = await api<Preview & { success: boolean }>('POST', '/api/replays', request(true));
    } catch (e) {
      error.textContent = frenchError(e);
      error.hidden = false;
      previewBody.replaceChildren();
      return;
    }
    const n = answer.notes;
    const parts: Array<HTMLElement | null> = [
      h('p', { 'data-testid': 'replay-count' }, `${answer.count} envoi(s) de ${answer.emails} e-mail(s) seront renvoyés.`),
      answer.per_target.length
        ? h(
            'table',
            { 'data-testid': 'replay-per-target' },
            h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Cible'), h('th', { scope: 'col' }, 'Envois'))),
            h(
              'tbody',
              {},
              ...answer.per_target.map((t) =>
                h(
                  'tr',
                  { 'data-target-id': t.target_id },
                  h('td', {}, `${t.target} (${t.target_id || 'sans identifiant'})`),
                  h('td', {}, t.count),
                ),
              ),
            ),
          )
        : null,
      answer.sample.length
        ? h(
            'details',
            {},
            h('summary', {}, `Les ${answer.sample.length} premiers`),
            h(
              'ul',
              {},
              ...answer.sample.map((s) => h('li', {}, `${formatDate(s.received_at)} — ${s.subject || '(sans sujet)'} → ${s.target}`)),
            ),
          )
        : null,
      h(
        'p',
        { class: 'hint', 'data-testid': 'replay-notes' },
        `Les parcours sont conservés ${n.journeys_kept_days} jours (au plus ${n.journeys_max_entries}) ; le plus ancien date du ` +
          `${formatDate(n.oldest_journey_at)}. ${n.dead_letters_kept} lettre(s) morte(s) conservée(s), dont au moins ` +
          `${n.dead_letters_outside_journeys} antérieure(s) à tout parcours conservé (non sélectionnables ici).`,
      ),
    ];
    previewBody.replaceChildren(...parts.filter((el): el is HTMLElement => el !== null));
    startButton.disabled = answer.count === 0;
  }

  async function openPreview(): Promise<void> {
    status.value = replayStatusFor(listFilter.status);
    previewPanel.hidden = false;
    await preview();
  }

  async function start(): Promise<void> {
    startButton.disabled = true;
    try {
      const answer = await api<{ id: string; total: number }>('POST', '/api/replays', request(false));
      toast(`Renvoi groupé ${answer.id} lancé : ${answer.total} envoi(s).`);
      previewPanel.hidden = true;
      follow(answer.id);
    } catch (e) {
      error.textContent = frenchError(e);
      error.hidden = false;
      startButton.disabled = false;
    }
  }

  function follow(id: string): void {
    current = id;
    progressPanel.hidden = false;
    cancelButton.disabled = false;
    progressPanel.setAttribute('data-replay-id', id);
    void poll();
  }

  async function poll(): Promise<void> {
    window.clearTimeout(timer);
    if (!current) return;
    try {
      const r = await api<Replay>('GET', `/api/replays/${current}`);
      const handled = r.total - r.remaining;
      bar.max = Math.max(1, r.total);
      bar.value = handled;
      progressPanel.setAttribute('data-state', r.state);
      progressText.textContent =
        `${STATE_LABELS[r.state]} — ${r.sent}/${r.total} envoyé(s), ${r.delivered} livré(s), ${r.failed} échec(s)` +
        `${r.skipped ? `, ${r.skipped} introuvable(s)` : ''}, ${r.remaining} restant(s).`;
      cancelButton.disabled = r.state !== 'running';
      if (r.state !== 'running') {
        void refreshHistory();
        return;
      }
    } catch (e) {
      progressText.textContent = `Suivi impossible : ${frenchError(e)}`;
    }
    timer = window.setTimeout(() => void poll(), 500);
  }

  async function cancel(): Promise<void> {
    if (!current) return;
    cancelButton.disabled = true;
    try {
      await api('POST', `/api/replays/${current}/cancel`);
      toast('Renvoi groupé annulé : plus rien ne part.');
    } catch (e) {
      toast(frenchError(e), 'error');
    }
    await poll();
  }

  async function refreshHistory(): Promise<void> {
    try {
      const { replays } = await api<{ replays: Replay[] }>('GET', '/api/replays?limit=20');
      historyRows.replaceChildren(
        ...(replays.length
          ? replays.map((r) =>
              h(
                'tr',
                { 'data-replay-id': r.id, 'data-state': r.state },
                h('td', {}, formatDate(r.created_at)),
                h('td', {}, r.who),
                h('td', {}, shownFilter(r.filter)),
                h('td', {}, r.payload === 'current' ? 'actuel' : 'd’origine'),
                h('td', {}, h('span', { class: `badge badge-${STATE_BADGE[r.state]}` }, STATE_LABELS[r.state])),
                h('td', {}, `${r.sent}/${r.total}`),
                h('td', {}, r.delivered),
                h('td', {}, r.failed),
                h('td', {}, r.remaining),
              ),
            )
          : [h('tr', {}, h('td', { colspan: 9 }, 'Aucun renvoi groupé pour l’instant.'))]),
      );
      const running = replays.find((r) => r.state === 'running');
      if (running && !current) follow(running.id);
    } catch {
      // The list is a convenience: the tab keeps working without it.
    }
  }
  void refreshHistory();

  return {
    async filterChanged(filter) {
      listFilter = filter;
      try {
        const answer = await api<Preview>('POST', '/api/replays', {
          filter: {
            status: replayStatusFor(filter.status),
            ...(filter.query ? { query: filter.query } : {}),
            ...(filter.since ? { since: filter.since } : {}),
            ...(filter.until ? { until: filter.until } : {}),
          },
          dry_run: true,
        });
        openButton.textContent = `Renvoyer les ${answer.emails} e-mails de ce filtre`;
        openButton.disabled = answer.count === 0;
      } catch {
        openButton.textContent = 'Renvoyer les e-mails de ce filtre';
      }
    },
  };
}
