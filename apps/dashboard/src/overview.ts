import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { HourStats } from '@render-signal/journeys';
import { api, errorMessage } from './api';
import { formatDate, h, pollWhileVisible, toast } from './dom';

/**
 * The first tab: what needs attention (the /health problems, in words), queue depths, the last email received
 * and delivered, and hourly charts of the last 24 h and 7 days (uPlot). Refreshed every 5 s while visible.
 */

interface HealthDocument {
  status: string;
  problem_details?: Array<{ code: string; severity: 'critical' | 'warning' | 'info'; message: string }>;
  services: { redis: { status: string }; background_tasks: { workers: number } };
  metrics: { dead_letters: number; error_rate_24h: number };
  queues: Record<string, { waiting: number; active: number; delayed: number; failed: number }>;
}

interface GmailMailboxesAnswer {
  gap_limits: string;
  mailboxes: Array<{
    address: string;
    resync_gap: { from: string; to: string; last_at: string; at_least: number; reasons: Array<'dedup_window' | 'max_messages'> } | null;
  }>;
}

const GAP_REASONS = { dedup_window: 'plus ancien que DEDUP_WINDOW_DAYS', max_messages: 'au-delà de GMAIL_RESYNC_MAX_MESSAGES' } as const;

interface StatsAnswer {
  hours: HourStats[];
  totals: Omit<HourStats, 'hour'>;
  last_received_at: string | null;
  last_delivered_at: string | null;
}

export const REFRESH_MS = 5_000;
const QUEUE_LABELS: Record<string, string> = { email: 'E-mails', delivery: 'Envois', offload: 'Transferts', gmail: 'Gmail' };
const SEVERITY_LABELS = { critical: 'Critique', warning: 'Attention', info: 'Info' } as const;

/** Colours of the series (also what the browser test looks for on the canvas). */
export const SERIES_COLOURS = {
  received: '#2563eb',
  delivered: '#16a34a',
  failed: '#dc2626',
  skipped: '#94a3b8',
  p50: '#7c3aed',
  p95: '#ea580c',
} as const;

async function fetchHealth(): Promise<HealthDocument> {
  // /health answers 503 with the same document when Redis is down: read the body either way.
  const res = await fetch('/health', { headers: { Accept: 'application/json' }, credentials: 'same-origin' });
  return (await res.json()) as HealthDocument;
}

function axisDate(seconds: number): string {
  const d = new Date(seconds * 1000);
  const day = d.toLocaleDateString('fr-FR', { day: '2-digit', month: '2-digit' });
  return `${d.toLocaleTimeString('fr-FR', { hour: '2-digit', minute: '2-digit' })}\n${day}`;
}

function legendDate(seconds: number): string {
  return new Date(seconds * 1000).toLocaleString('fr-FR', { day: '2-digit', month: '2-digit', hour: '2-digit', minute: '2-digit' });
}

function chartWidth(el: HTMLElement): number {
  return Math.max(320, Math.min(1100, (el.clientWidth || el.parentElement?.clientWidth || 800) - 8));
}

/** One uPlot chart whose data is replaced on each refresh. */
function makeChart(
  container: HTMLElement,
  title: string,
  series: Array<{ label: string; stroke: string; key: keyof HourStats }>,
  unit: string,
) {
  let plot: uPlot | undefined;
  const build = (data: uPlot.AlignedData) => {
    plot = new uPlot(
      {
        title,
        width: chartWidth(container),
        height: 220,
        scales: { x: { time: true } },
        // French dates on the time axis and in the legend.
        axes: [
          { values: (_u, splits) => splits.map(axisDate), space: 70 },
          { label: unit, size: 60 },
        ],
        // Latency hours without a delivery are gaps: points make a lone hour visible.
        series: [
          { label: 'Heure', value: (_u, v) => (v === null ? '—' : legendDate(v)) },
          ...series.map((s) => ({
            label: s.label,
            stroke: s.stroke,
            width: 2,
            spanGaps: false,
            points: { show: unit === 'ms', size: 7, fill: s.stroke },
          })),
        ],
        legend: { live: true },
      },
      data,
      container,
    );
  };
  return {
    update(hours: HourStats[]) {
      const xs = hours.map((h) => Date.parse(h.hour) / 1000);
      const data: uPlot.AlignedData = [xs, ...series.map((s) => hours.map((h) => h[s.key] as number | null))];
      if (!plot) build(data);
      else plot.setData(data);
      container.dataset.points = String(hours.length);
      container.dataset.total = String(
        series.reduce((sum, s) => sum + hours.reduce((a, h) => a + ((h[s.key] as number | null) ?? 0), 0), 0),
      );
    },
    resize() {
      plot?.setSize({ width: chartWidth(container), height: 220 });
    },
  };
}

export async function mountOverview(root: HTMLElement): Promise<void> {
  const problems = h('ul', { class: 'problems', 'data-testid': 'overview-problems', 'aria-live': 'polite' });
  const facts = h('dl', { class: 'facts', 'data-testid': 'overview-facts' });
  const queues = h('tbody', { 'data-testid': 'overview-queues' });
  const info = h('p', { class: 'status', role: 'status' });
  // Mail a Gmail resync could not read, per mailbox, until the operator says it was checked by hand.
  const gaps = h('ul', { class: 'problems', 'data-testid': 'gmail-gaps' });
  const gapsPanel = h(
    'section',
    { class: 'panel', 'aria-labelledby': 'ov-gmail-gaps', hidden: true },
    h('h3', { id: 'ov-gmail-gaps' }, 'Courrier Gmail non relu'),
    gaps,
  );
  const charts = {
    day: {
      counts: h('div', { class: 'chart', 'data-testid': 'chart-24h-counts' }),
      latency: h('div', { class: 'chart', 'data-testid': 'chart-24h-latency' }),
    },
    week: {
      counts: h('div', { class: 'chart', 'data-testid': 'chart-7d-counts' }),
      latency: h('div', { class: 'chart', 'data-testid': 'chart-7d-latency' }),
    },
  };
  const countSeries = [
    { label: 'Reçus', stroke: SERIES_COLOURS.received, key: 'received' as const },
    { label: 'Livrés', stroke: SERIES_COLOURS.delivered, key: 'delivered' as const },
    { label: 'Échecs', stroke: SERIES_COLOURS.failed, key: 'failed' as const },
    { label: 'Ignorés / filtrés', stroke: SERIES_COLOURS.skipped, key: 'skipped' as const },
  ];
  const latencySeries = [
    { label: 'p50', stroke: SERIES_COLOURS.p50, key: 'p50_ms' as const },
    { label: 'p95', stroke: SERIES_COLOURS.p95, key: 'p95_ms' as const },
  ];
  const plots = {
    day: {
      counts: makeChart(charts.day.counts, 'E-mails par heure — 24 h', countSeries, 'e-mails'),
      latency: makeChart(charts.day.latency, 'Délai réception → livraison — 24 h', latencySeries, 'ms'),
    },
    week: {
      counts: makeChart(charts.week.counts, 'E-mails par heure — 7 jours', countSeries, 'e-mails'),
      latency: makeChart(charts.week.latency, 'Délai réception → livraison — 7 jours', latencySeries, 'ms'),
    },
  };

  root.append(
    h('h2', {}, 'Vue d’ensemble'),
    info,
    h('section', { class: 'panel', 'aria-labelledby': 'ov-problems' }, h('h3', { id: 'ov-problems' }, 'État'), problems),
    gapsPanel,
    h(
      'section',
      { class: 'panel', 'aria-labelledby': 'ov-activity' },
      h('h3', { id: 'ov-activity' }, 'Activité'),
      facts,
      h(
        'div',
        { class: 'table-wrap' },
        h(
          'table',
          {},
          h('caption', {}, 'Files d’attente'),
          h('thead', {}, h('tr', {}, ...['File', 'En attente', 'En cours', 'Différés', 'Échecs'].map((l) => h('th', { scope: 'col' }, l)))),
          queues,
        ),
      ),
    ),
    h(
      'section',
      { class: 'panel', 'aria-labelledby': 'ov-day' },
      h('h3', { id: 'ov-day' }, 'Dernières 24 heures'),
      charts.day.counts,
      charts.day.latency,
    ),
    h(
      'section',
      { class: 'panel', 'aria-labelledby': 'ov-week' },
      h('h3', { id: 'ov-week' }, '7 derniers jours'),
      charts.week.counts,
      charts.week.latency,
    ),
  );

  const fact = (label: string, value: string, testid: string) => [h('dt', {}, label), h('dd', { 'data-testid': testid }, value)];

  async function refreshGaps(): Promise<void> {
    const answer = await api<GmailMailboxesAnswer>('GET', '/api/gmail/mailboxes');
    const open = answer.mailboxes.filter((m) => m.resync_gap);
    gapsPanel.hidden = open.length === 0;
    gaps.replaceChildren(
      ...open.map((m) => {
        const gap = m.resync_gap!;
        const button = h('button', { type: 'button', 'data-testid': 'acknowledge-gap' }, 'Vérifié à la main — acquitter');
        button.addEventListener('click', () => {
          button.disabled = true;
          api<{ message: string }>('POST', `/api/gmail/mailboxes/${encodeURIComponent(m.address)}/acknowledge-truncation`, {
            last_at: gap.last_at,
          })
            .then((done) => (toast(done.message), refresh()))
            .catch((error: unknown) => {
              button.disabled = false;
              toast(`Acquittement impossible : ${errorMessage(error)}`, 'error');
            });
        });
        return h(
          'li',
          { class: 'problem problem-warning', 'data-mailbox': m.address },
          h('strong', {}, m.address),
          ` : au moins ${gap.at_least} e-mail(s) reçu(s) du ${formatDate(gap.from)} au ${formatDate(gap.to)} n’ont pas été lus ` +
            `(${gap.reasons.map((r) => GAP_REASONS[r]).join(', ')}). Vérifiez-les dans Gmail. ${answer.gap_limits} `,
          button,
        );
      }),
    );
  }

  let workersFact = '—';
  async function refresh(): Promise<void> {
    // /health first and on its own: with Redis down the figures fail, the problems must still show.
    const statsLoaded = Promise.all([api<StatsAnswer>('GET', '/api/stats?hours=24'), api<StatsAnswer>('GET', '/api/stats?hours=168')]);
    statsLoaded.catch(() => {}); // reported below, once /health is shown
    const gapsLoaded = refreshGaps();
    gapsLoaded.catch(() => {}); // the /health problems name the gap too
    try {
      const health = await fetchHealth();
      const details = health.problem_details ?? [];
      problems.replaceChildren(
        ...(details.length === 0 ? [h('li', { class: 'problem problem-ok' }, 'Tout fonctionne : aucun problème détecté.')] : []),
        ...details.map((p) =>
          h(
            'li',
            { class: `problem problem-${p.severity}`, 'data-code': p.code },
            h('span', { class: `badge badge-${p.severity}` }, SEVERITY_LABELS[p.severity]),
            ' ',
            p.message,
          ),
        ),
      );
      queues.replaceChildren(
        ...Object.entries(health.queues).map(([name, q]) =>
          h(
            'tr',
            { 'data-queue': name },
            h('th', { scope: 'row' }, QUEUE_LABELS[name] ?? name),
            h('td', {}, q.waiting),
            h('td', {}, q.active),
            h('td', {}, q.delayed),
            h(
              'td',
              {},
              q.failed > 0 ? h('a', { href: `/admin/queues/queue/${encodeURIComponent(name)}?status=failed` }, String(q.failed)) : '0',
            ),
          ),
        ),
      );
      workersFact = String(health.services.background_tasks.workers);
    } catch (error) {
      problems.replaceChildren(h('li', { class: 'problem problem-critical' }, `État indisponible : ${errorMessage(error)}`));
    }
    try {
      const [day, week] = await statsLoaded;
      facts.replaceChildren(
        ...fact('Dernier e-mail reçu', formatDate(day.last_received_at ?? week.last_received_at), 'last-received'),
        ...fact('Dernier envoi réussi', formatDate(day.last_delivered_at ?? week.last_delivered_at), 'last-delivered'),
        ...fact('Workers actifs', workersFact, 'workers'),
        ...fact(
          'Sur 24 h',
          `${day.totals.received} reçus, ${day.totals.delivered} livrés, ${day.totals.failed} échecs, ${day.totals.skipped} ignorés/filtrés` +
            (day.totals.p95_ms !== null ? ` — délai p50 ${day.totals.p50_ms} ms, p95 ${day.totals.p95_ms} ms` : ''),
          'totals-24h',
        ),
      );
      plots.day.counts.update(day.hours);
      plots.day.latency.update(day.hours);
      plots.week.counts.update(week.hours);
      plots.week.latency.update(week.hours);
      info.textContent = `Mis à jour à ${new Date().toLocaleTimeString('fr-FR')} — rafraîchi toutes les ${REFRESH_MS / 1000} s.`;
    } catch (error) {
      info.textContent = `Chiffres indisponibles : ${errorMessage(error)}`;
    }
    await gapsLoaded.catch(() => {});
  }

  window.addEventListener('resize', () => Object.values(plots).forEach((p) => (p.counts.resize(), p.latency.resize())));
  await refresh();
  pollWhileVisible(refresh, REFRESH_MS);
}
