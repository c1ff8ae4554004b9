import { api, errorMessage } from './api';
import { formatDate, h, select, pollWhileVisible } from './dom';

/** The delivery log (GET /api/webhook_logs?days=7): filter by status, link to the job, auto-refresh paused while hidden. */

interface LogEntry {
  id: number;
  timestamp: string;
  type: string;
  email_id: string;
  status: 'success' | 'error' | 'skipped';
  status_code: number | null;
  webhook_url: string | null;
  subject: string;
  attempt?: number;
  max_attempts?: number;
  final?: boolean;
  duration_ms?: number;
  failure_reason?: string;
  error_message?: string;
  webhook_id?: string;
}

const REFRESH_MS = 30_000;
const STATUS_LABELS: Record<string, string> = { success: 'Succès', error: 'Erreur', skipped: 'Ignoré' };

export async function mountLogs(root: HTMLElement): Promise<void> {
  const statusFilter = select(
    [
      ['', 'Tous'],
      ['success', 'Succès'],
      ['error', 'Erreurs'],
      ['skipped', 'Ignorés'],
    ],
    '',
    { id: 'log-status', onChange: () => void refresh() },
  );
  const days = select(
    [
      ['1', '24 h'],
      ['7', '7 jours'],
      ['30', '30 jours'],
    ],
    '7',
    { id: 'log-days', onChange: () => void refresh() },
  );
  const info = h('p', { class: 'status', role: 'status' });
  const body = h('tbody', { 'data-testid': 'log-rows' });
  const table = h(
    'table',
    { class: 'log-table' },
    h('caption', { class: 'sr-only' }, 'Derniers envois de webhooks'),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        ...['Date', 'Statut', 'Cible', 'Tentative', 'Durée', 'Sujet', 'Détail', 'Parcours', 'Job'].map((label) =>
          h('th', { scope: 'col' }, label),
        ),
      ),
    ),
    body,
  );

  async function refresh(): Promise<void> {
    const params = new URLSearchParams({ days: days.value, limit: '100' });
    if (statusFilter.value) params.set('status', statusFilter.value);
    try {
      const answer = await api<{ logs: LogEntry[]; count: number; days_filter: number }>('GET', `/api/webhook_logs?${params}`);
      body.replaceChildren(
        ...(answer.logs.length === 0 ? [h('tr', {}, h('td', { colspan: 9 }, 'Aucun envoi sur la période.'))] : []),
        ...answer.logs.map((entry) =>
          h(
            'tr',
            { class: `log-${entry.status}` },
            h('td', {}, formatDate(entry.timestamp)),
            h(
              'td',
              {},
              h('span', { class: `badge badge-${entry.status}` }, STATUS_LABELS[entry.status] ?? entry.status),
              entry.status_code ? ` ${entry.status_code}` : '',
            ),
            h('td', {}, h('code', {}, entry.webhook_url ?? '—')),
            h(
              'td',
              {},
              entry.attempt
                ? `${entry.attempt}${entry.max_attempts ? `/${entry.max_attempts}` : ''}${entry.final === false ? ' (réessai prévu)' : ''}`
                : '—',
            ),
            h('td', {}, entry.duration_ms !== undefined ? `${entry.duration_ms} ms` : '—'),
            h('td', {}, entry.subject || '—'),
            h('td', {}, entry.failure_reason ?? entry.error_message ?? ''),
            h(
              'td',
              {},
              entry.type !== 'test' && entry.email_id
                ? h('a', { href: `#emails/${encodeURIComponent(entry.email_id)}` }, 'Voir le parcours')
                : '—',
            ),
            h(
              'td',
              {},
              entry.webhook_id && entry.type !== 'test'
                ? h('a', { href: `/admin/queues/queue/delivery/${encodeURIComponent(entry.webhook_id)}` }, 'Voir le job')
                : '—',
            ),
          ),
        ),
      );
      info.textContent = `${answer.count} envoi(s) — mis à jour à ${new Date().toLocaleTimeString('fr-FR')}${document.hidden ? ' (rafraîchissement en pause)' : ''}`;
    } catch (error) {
      info.textContent = `Chargement impossible : ${errorMessage(error)}`;
    }
  }

  root.append(
    h('h2', {}, 'Journal des envois'),
    h(
      'div',
      { class: 'toolbar' },
      h('label', { for: 'log-status' }, 'Statut '),
      statusFilter,
      h('label', { for: 'log-days' }, 'Période '),
      days,
      h('button', { type: 'button', class: 'secondary', onClick: () => void refresh() }, 'Actualiser'),
      h('a', { href: '/admin/queues', class: 'button secondary' }, 'Ouvrir Bull Board'),
    ),
    info,
    h('div', { class: 'table-wrap' }, table),
  );
  await refresh();
  pollWhileVisible(refresh, REFRESH_MS);
}
