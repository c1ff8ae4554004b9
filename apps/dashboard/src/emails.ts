import type { EmailListItem, EmailStatus, JourneyView, TargetView } from '@render-signal/journeys';
import { api, errorMessage } from './api';
import { formatDate, h, labelled, select, toast } from './dom';

/**
 * The "E-mails" tab: search (words of the subject or sender, email_id, status, detector, dates), newest first
 * with a cursor, and one email's journey at #emails/<email_id> with its actions (re-deliver, cancel, copy).
 */

export const STATUS_LABELS: Record<EmailStatus, string> = {
  delivered: 'Livré',
  retrying: 'En réessai',
  failed: 'Échec',
  skipped: 'Ignoré',
  filtered: 'Filtré',
  in_progress: 'En cours',
};
const STATUS_BADGE: Record<string, string> = {
  delivered: 'success',
  retrying: 'warning',
  failed: 'error',
  cancelled: 'error',
  skipped: 'skipped',
  filtered: 'skipped',
  in_progress: 'info',
  pending: 'info',
};
const TARGET_STATE_LABELS: Record<string, string> = {
  pending: 'En attente',
  retrying: 'Réessai prévu',
  delivered: 'Livré',
  failed: 'Échec définitif',
  cancelled: 'Annulé',
};
const SOURCE_LABELS: Record<string, string> = { apps_script: 'Apps Script (HTTP)', gmail_push: 'Gmail push' };
const DETECTOR_LABELS: Record<string, string> = {
  recadrage: 'Recadrage (Média Solution)',
  desabonnement_journee_tarifs: 'Désabonnement / journée / tarifs',
};
const WINDOW_LABELS: Record<string, string> = {
  no_window: 'Pas de fenêtre horaire : envoyé',
  inside_window: 'Dans la fenêtre horaire : envoyé',
  outside_window_recadrage: 'Hors fenêtre (recadrage) : non envoyé, marqué traité',
  outside_window_desabo_urgent: 'Hors fenêtre (désabonnement urgent) : retenu',
  outside_window_desabo_sent_anyway: 'Hors fenêtre (désabonnement non urgent) : envoyé quand même',
  outside_window_no_detector: 'Hors fenêtre (aucun détecteur) : retenu',
  sent: 'Fenêtre horaire respectée',
};
const SKIP_LABELS: Record<string, string> = {
  excluded_keyword: 'Mot-clé exclu',
  too_large: 'E-mail trop volumineux',
  no_attachments: 'Aucune pièce jointe (lien) alors qu’elle est exigée',
  outside_time_window: 'Hors fenêtre horaire',
  no_delivery_links: 'Aucun lien de téléchargement',
  no_target: 'Aucune cible configurée',
};
const OFFLOAD_LABELS: Record<string, string> = {
  transferred: 'Transféré',
  cached: 'Déjà en cache',
  failed: 'Échec',
  not_finished: 'Non terminé à l’échéance',
};
const OPERATOR_LABELS: Record<string, string> = {
  contains: 'contient',
  not_contains: 'ne contient pas',
  equals: 'est égal à',
  not_equals: 'n’est pas égal à',
  starts_with: 'commence par',
  ends_with: 'se termine par',
  regex: 'correspond à la regex',
  not_regex: 'ne correspond pas à la regex',
};

interface EmailPage {
  emails: EmailListItem[];
  next_cursor: string | null;
  scanned: number;
}
interface JourneyAnswer {
  journey: JourneyView;
  invalid_events: number;
  bull_board: { email_job: string | null; deliveries: Record<string, string>; queue: string };
}

const badge = (state: string, label: string) =>
  h('span', { class: `badge badge-${STATUS_BADGE[state] ?? 'skipped'}`, 'data-state': state }, label);
const ms = (value: number | null | undefined) => (value === null || value === undefined ? '—' : `${Math.round(value)} ms`);

export interface EmailsTab {
  /** Shows the list (null) or one email's journey. */
  show(emailId: string | null): Promise<void>;
}

export function mountEmails(root: HTMLElement): EmailsTab {
  const query = h('input', { type: 'search', placeholder: 'mots du sujet ou de l’expéditeur, ou email_id', 'data-testid': 'email-query' });
  const status = select([['', 'Tous'], ...Object.entries(STATUS_LABELS).map(([value, label]): [string, string] => [value, label])], '', {
    'data-testid': 'email-status',
  });
  const detector = select(
    [
      ['', 'Tous'],
      ['recadrage', DETECTOR_LABELS.recadrage!],
      ['desabonnement_journee_tarifs', DETECTOR_LABELS.desabonnement_journee_tarifs!],
      ['none', 'Aucun détecteur'],
    ],
    '',
  );
  const since = h('input', { type: 'date' });
  const until = h('input', { type: 'date' });
  const rows = h('tbody', { 'data-testid': 'email-rows' });
  const more = h('button', { type: 'button', class: 'secondary', hidden: true }, 'Charger les plus anciens');
  const info = h('p', { class: 'status', role: 'status' });
  const listSection = h(
    'section',
    { 'aria-labelledby': 'emails-title' },
    h('h2', { id: 'emails-title' }, 'E-mails'),
    h(
      'form',
      { class: 'panel search', role: 'search', onSubmit: (e: Event) => (e.preventDefault(), void search()) },
      h(
        'div',
        { class: 'grid-search' },
        labelled('Recherche', query, 'Tous les mots doivent apparaître (accents et majuscules ignorés).'),
        labelled('Statut', status),
        labelled('Détecteur', detector),
        labelled('Reçu à partir du', since),
        labelled('Reçu jusqu’au', until),
      ),
      h('button', { type: 'submit', class: 'primary' }, 'Rechercher'),
    ),
    info,
    h(
      'div',
      { class: 'table-wrap' },
      h(
        'table',
        { class: 'email-table' },
        h('caption', { class: 'sr-only' }, 'E-mails reçus, du plus récent au plus ancien'),
        h(
          'thead',
          {},
          h('tr', {}, ...['Reçu', 'Statut', 'Sujet', 'Expéditeur', 'Détecteur', 'Cibles'].map((l) => h('th', { scope: 'col' }, l))),
        ),
        rows,
      ),
    ),
    more,
  );
  const journeySection = h('section', { 'data-testid': 'journey', hidden: true, 'aria-live': 'polite' });
  root.append(listSection, journeySection);

  let cursor: string | null = null;
  let loadedOnce = false;

  const rowFor = (email: EmailListItem) => {
    const href = `#emails/${encodeURIComponent(email.email_id)}`;
    const row = h(
      'tr',
      { class: 'clickable', 'data-email-id': email.email_id, onClick: () => (window.location.hash = href) },
      h('td', {}, formatDate(email.received_at)),
      h('td', {}, badge(email.status, STATUS_LABELS[email.status])),
      h('td', {}, h('a', { href }, email.subject || '(sans sujet)')),
      h('td', {}, email.sender),
      h('td', {}, email.detector ? (DETECTOR_LABELS[email.detector] ?? email.detector) : '—'),
      h('td', {}, email.targets.total ? `${email.targets.delivered}/${email.targets.total} livrée(s)` : '—'),
    );
    return row;
  };

  async function search(append = false): Promise<void> {
    const params = new URLSearchParams({ limit: '50' });
    if (query.value.trim()) params.set('query', query.value.trim());
    if (status.value) params.set('status', status.value);
    if (detector.value) params.set('detector', detector.value);
    if (since.value) params.set('since', since.value);
    if (until.value) params.set('until', until.value);
    if (append && cursor) params.set('cursor', cursor);
    try {
      const page = await api<EmailPage>('GET', `/api/emails?${params}`);
      const fresh = page.emails.map(rowFor);
      if (append) rows.append(...fresh);
      else rows.replaceChildren(...(fresh.length ? fresh : [h('tr', {}, h('td', { colspan: 6 }, 'Aucun e-mail ne correspond.'))]));
      cursor = page.next_cursor;
      more.hidden = cursor === null;
      info.textContent = `${rows.querySelectorAll('tr[data-email-id]').length} e-mail(s) affiché(s)${cursor ? ' — d’autres, plus anciens, existent' : ''}.`;
    } catch (error) {
      info.textContent = `Recherche impossible : ${errorMessage(error)}`;
    }
  }
  more.addEventListener('click', () => void search(true));

  let journeyTimer: number | undefined;
  let shownId: string | null = null;

  async function loadJourney(emailId: string): Promise<void> {
    window.clearTimeout(journeyTimer);
    let answer: JourneyAnswer;
    try {
      answer = await api<JourneyAnswer>('GET', `/api/emails/${encodeURIComponent(emailId)}`);
    } catch (error) {
      journeySection.replaceChildren(
        h('p', {}, h('a', { href: '#emails' }, '← Retour à la liste')),
        h('p', { class: 'field-error', role: 'alert' }, errorMessage(error)),
      );
      return;
    }
    if (shownId !== emailId) return;
    const openDetails = new Set([...journeySection.querySelectorAll('details[open]')].map((d) => d.getAttribute('data-key') ?? ''));
    journeySection.replaceChildren(...renderJourney(answer, openDetails, () => loadJourney(emailId)));
    // Follow an email still moving: every 2 s while in progress or retrying.
    if (answer.journey.status === 'in_progress' || answer.journey.status === 'retrying')
      journeyTimer = window.setTimeout(() => void loadJourney(emailId), 2_000);
  }

  return {
    async show(emailId) {
      shownId = emailId;
      window.clearTimeout(journeyTimer);
      listSection.hidden = emailId !== null;
      journeySection.hidden = emailId === null;
      if (emailId === null) {
        if (!loadedOnce) {
          loadedOnce = true;
          await search();
        }
        return;
      }
      journeySection.replaceChildren(h('p', {}, 'Chargement…'));
      await loadJourney(emailId);
    },
  };
}

function definition(pairs: Array<[string, Node | string]>): HTMLElement {
  return h('dl', { class: 'facts' }, ...pairs.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}

function renderJourney(answer: JourneyAnswer, openDetails: Set<string>, reload: () => Promise<void>): Array<Node | string> {
  const { journey: j, bull_board: board } = answer;
  const emailPath = encodeURIComponent(j.email_id);

  const act = async (path: string, body: unknown, confirmText?: string) => {
    if (confirmText && !window.confirm(confirmText)) return;
    try {
      const res = await api<{ message: string }>('POST', `/api/emails/${emailPath}/${path}`, body);
      toast(res.message);
    } catch (error) {
      toast(errorMessage(error), 'error');
    }
    await reload();
  };

  const arrival = definition([
    ['Reçu le', formatDate(j.received?.accepted_at)],
    ['Par', j.received ? (SOURCE_LABELS[j.received.source] ?? j.received.source) : '—'],
    ['Expéditeur', j.received?.sender ?? '—'],
    ['Sujet', j.received?.subject ?? '—'],
    ['email_id', h('code', {}, j.email_id)],
  ]);
  const detection = definition([
    ['Détecteur', j.detection?.detector ? (DETECTOR_LABELS[j.detection.detector] ?? j.detection.detector) : 'Aucun'],
    ['Heure de livraison (delivery_time)', j.detection?.delivery_time ?? '—'],
    ...(j.detection?.is_urgent !== null && j.detection?.is_urgent !== undefined
      ? [['Urgent', j.detection.is_urgent ? 'oui' : 'non'] as [string, string]]
      : []),
    ['Fenêtre horaire', j.window ? (WINDOW_LABELS[j.window.reason] ?? j.window.reason) : '—'],
    ...(j.skip
      ? [['Non envoyé', `${SKIP_LABELS[j.skip.reason] ?? j.skip.reason}${j.skip.detail ? ` (${j.skip.detail})` : ''}`] as [string, string]]
      : []),
  ]);

  const rules = j.rules.length
    ? h(
        'table',
        { 'data-testid': 'journey-rules' },
        h('thead', {}, h('tr', {}, ...['Règle', 'Résultat', 'Condition décisive'].map((l) => h('th', { scope: 'col' }, l)))),
        h(
          'tbody',
          {},
          ...j.rules.map((r) =>
            h(
              'tr',
              {},
              h('td', {}, r.name),
              h(
                'td',
                {},
                !r.enabled
                  ? 'Désactivée'
                  : r.applied
                    ? `Appliquée${j.stopped_by === r.id ? ' (arrête le traitement)' : ''}`
                    : r.matched
                      ? 'Correspond, non atteinte (une règle précédente a arrêté le traitement)'
                      : 'Ne correspond pas',
              ),
              h(
                'td',
                {},
                r.deciding
                  ? `${r.deciding.field} ${OPERATOR_LABELS[r.deciding.operator] ?? r.deciding.operator} « ${r.deciding.value} » → ${r.deciding.matched ? 'vrai' : 'faux'}`
                  : '—',
              ),
            ),
          ),
        ),
      )
    : h('p', { class: 'empty' }, 'Aucune règle de routage : la cible par défaut reçoit l’e-mail.');

  const links = j.links.length
    ? h(
        'ul',
        { 'data-testid': 'journey-links' },
        ...j.links.map((l) =>
          h(
            'li',
            {},
            `${l.provider} : `,
            h('code', {}, l.raw_url),
            ' — transfert : ',
            l.offload
              ? `${OFFLOAD_LABELS[l.offload.outcome] ?? l.offload.outcome}${l.offload.reason ? ` (${l.offload.reason}${l.offload.detail ? ` : ${l.offload.detail}` : ''})` : ''}`
              : 'aucun (lien source envoyé)',
          ),
        ),
      )
    : h('p', { class: 'empty' }, 'Aucun lien de téléchargement.');

  const targets = j.targets.map((t) => renderTarget(t, board, openDetails, act));
  const pending = j.targets.some((t) => t.state === 'retrying' || t.state === 'pending');
  const canRedeliver = j.targets.some((t) => t.payload !== null);

  return [
    h('p', {}, h('a', { href: '#emails' }, '← Retour à la liste')),
    h('h2', {}, 'Parcours de l’e-mail ', badge(j.status, STATUS_LABELS[j.status])),
    h(
      'div',
      { class: 'toolbar', 'data-testid': 'journey-actions' },
      h(
        'button',
        {
          type: 'button',
          class: 'primary',
          disabled: !canRedeliver,
          onClick: () => act('redeliver', {}, 'Renvoyer cet e-mail à toutes ses cibles (même webhook-id) ?'),
        },
        'Renvoyer à toutes les cibles',
      ),
      h(
        'button',
        {
          type: 'button',
          class: 'danger',
          disabled: !pending,
          onClick: () => act('cancel', undefined, 'Annuler les réessais en attente ?'),
        },
        'Annuler les réessais en attente',
      ),
      h('button', { type: 'button', class: 'secondary', onClick: () => reload() }, 'Actualiser'),
      h('a', { class: 'button secondary', href: board.email_job ?? board.queue }, 'Ouvrir dans Bull Board'),
    ),
    answer.invalid_events ? h('p', { class: 'field-error' }, `${answer.invalid_events} événement(s) illisible(s) ignoré(s).`) : '',
    h('section', { class: 'panel' }, h('h3', {}, 'Arrivée'), arrival),
    h('section', { class: 'panel' }, h('h3', {}, 'Détection et fenêtre horaire'), detection),
    h('section', { class: 'panel' }, h('h3', {}, 'Règles de routage'), rules),
    h('section', { class: 'panel' }, h('h3', {}, 'Liens et transferts'), links),
    h(
      'section',
      { class: 'panel' },
      h('h3', {}, 'Cibles et tentatives'),
      ...(targets.length ? targets : [h('p', { class: 'empty' }, 'Aucune cible.')]),
    ),
    h(
      'details',
      { class: 'panel', 'data-key': 'timeline', open: openDetails.has('timeline') },
      h('summary', {}, 'Chronologie complète'),
      h('ol', {}, ...j.timeline.map((e) => h('li', {}, `${formatDate(e.at)} — ${e.type} `, h('code', {}, JSON.stringify(e.detail))))),
    ),
  ];
}

function renderTarget(
  t: TargetView,
  board: JourneyAnswer['bull_board'],
  openDetails: Set<string>,
  act: (path: string, body: unknown, confirmText?: string) => Promise<void>,
): HTMLElement {
  const copy = async () => {
    if (t.payload === null) return;
    try {
      await navigator.clipboard.writeText(t.payload);
      toast('Payload copié.');
    } catch {
      const area = document.querySelector<HTMLTextAreaElement>(`textarea[data-payload="${t.webhook_id}"]`);
      area?.select();
      toast('Copie impossible : le texte est sélectionné, copiez-le avec Ctrl+C.', 'error');
    }
  };
  const attempts = h(
    'table',
    { 'data-testid': 'attempts' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        ...['#', 'Date', 'Statut HTTP', 'Durée', 'Résultat', 'Raison', 'Réponse (extrait)', 'Job'].map((l) => h('th', { scope: 'col' }, l)),
      ),
    ),
    h(
      'tbody',
      {},
      ...(t.attempts.length === 0 ? [h('tr', {}, h('td', { colspan: 8 }, 'Aucune tentative pour l’instant.'))] : []),
      ...t.attempts.map((a) =>
        h(
          'tr',
          { class: `attempt attempt-${a.outcome}`, 'data-testid': 'attempt' },
          h('td', {}, `${a.attempt}/${a.max_attempts}${a.redelivery ? ' (renvoi)' : ''}`),
          h('td', {}, formatDate(a.at)),
          h('td', {}, a.status_code ?? '—'),
          h('td', {}, ms(a.duration_ms)),
          h(
            'td',
            {},
            badge(a.outcome, a.outcome === 'delivered' ? 'Livré' : a.outcome === 'retrying' ? 'Échec, réessai prévu' : 'Échec définitif'),
          ),
          h('td', {}, a.failure_reason ?? ''),
          h('td', {}, a.response_excerpt ? h('code', { class: 'excerpt' }, a.response_excerpt) : ''),
          h('td', {}, board.deliveries[a.job_id] ? h('a', { href: board.deliveries[a.job_id]! }, 'Bull Board') : a.job_id),
        ),
      ),
    ),
  );
  return h(
    'div',
    { class: 'target', 'data-testid': 'journey-target', 'data-webhook-id': t.webhook_id },
    h(
      'h4',
      {},
      h('code', {}, t.target),
      ' ',
      badge(t.state, TARGET_STATE_LABELS[t.state] ?? t.state),
      t.held_since ? h('span', { class: 'badge', 'data-testid': 'journey-held' }, ' retenu : cible en pause') : null,
    ),
    definition([
      ['Origine', t.origin === 'default' ? 'Cible par défaut' : t.origin.startsWith('rule:') ? `Règle ${t.origin.slice(5)}` : t.origin],
      ['webhook-id', h('code', {}, t.webhook_id)],
      [
        'Prochain essai',
        t.held_since
          ? `retenu : cible en pause (depuis ${formatDate(t.held_since)})`
          : t.next_attempt_at
            ? formatDate(t.next_attempt_at)
            : '—',
      ],
    ]),
    h(
      'div',
      { class: 'toolbar' },
      h(
        'button',
        {
          type: 'button',
          class: 'secondary',
          disabled: t.payload === null,
          'data-testid': 'redeliver-target',
          onClick: () => act('redeliver', { webhook_id: t.webhook_id }, `Renvoyer à ${t.target} (même webhook-id) ?`),
        },
        'Renvoyer à cette cible',
      ),
      h(
        'button',
        {
          type: 'button',
          class: 'secondary',
          disabled: t.payload === null,
          'data-testid': 'redeliver-target-current',
          onClick: () =>
            act(
              'redeliver',
              { webhook_id: t.webhook_id, payload: 'current' },
              `Renvoyer à ${t.target} avec la mise en forme du payload actuelle (un modèle corrigé) ?`,
            ),
        },
        'Renvoyer avec la mise en forme actuelle',
      ),
      h('button', { type: 'button', class: 'secondary', disabled: t.payload === null, onClick: copy }, 'Copier le payload signé'),
    ),
    attempts,
    t.payload !== null
      ? h(
          'details',
          { 'data-key': `payload-${t.webhook_id}`, open: openDetails.has(`payload-${t.webhook_id}`) },
          h('summary', {}, 'Payload exact (corps signé et envoyé)'),
          h('textarea', { readonly: true, rows: 8, class: 'mono', 'data-payload': t.webhook_id, 'aria-label': 'Payload signé' }, t.payload),
        )
      : null,
  );
}
