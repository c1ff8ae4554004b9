import { api, ApiRequestError, errorMessage } from './api';
import { checkbox, h, labelled, select, toast } from './dom';
import { payloadEditor, type PayloadSettings } from './payload-editor';

/** Webhook settings (POST /api/webhooks/config), processing preferences, runtime flags, secret rotation, test webhook. */

interface WebhookConfig {
  webhook_url: string | null;
  webhook_url_source: string | null;
  webhook_ssl_verify: boolean;
  webhook_sending_enabled: boolean;
  webhook_delivery_mode: 'json' | 'form';
  webhook_fallback_on_415: boolean;
  webhook_time_start: string | null;
  webhook_time_end: string | null;
  absence_pause_enabled: boolean;
  absence_pause_days: string[];
  effective_target: string | null;
  payload?: PayloadSettings;
  _revision?: number;
}

const DAYS: Array<[string, string]> = [
  ['monday', 'Lundi'],
  ['tuesday', 'Mardi'],
  ['wednesday', 'Mercredi'],
  ['thursday', 'Jeudi'],
  ['friday', 'Vendredi'],
  ['saturday', 'Samedi'],
  ['sunday', 'Dimanche'],
];

function errorList(error: unknown): HTMLElement {
  const items = error instanceof ApiRequestError ? error.errors.map((e) => h('li', {}, `${e.path} : ${e.message}`)) : [];
  return h('div', { class: 'field-error', role: 'alert' }, h('p', {}, errorMessage(error)), items.length ? h('ul', {}, ...items) : null);
}

export async function mountWebhooks(root: HTMLElement): Promise<void> {
  root.append(h('h2', {}, 'Webhooks'));
  const settingsSection = h('section', { class: 'panel', 'aria-labelledby': 'wh-settings' });
  const prefsSection = h('section', { class: 'panel', 'aria-labelledby': 'wh-prefs' });
  const flagsSection = h('section', { class: 'panel', 'aria-labelledby': 'wh-flags' });
  const toolsSection = h('section', { class: 'panel', 'aria-labelledby': 'wh-tools' });
  root.append(settingsSection, toolsSection, prefsSection, flagsSection);
  await Promise.all([renderSettings(settingsSection), renderPrefs(prefsSection), renderFlags(flagsSection)]);
  renderTools(toolsSection);
}

async function renderSettings(section: HTMLElement): Promise<void> {
  const { config } = await api<{ config: WebhookConfig }>('GET', '/api/webhooks/config');
  const url = h('input', {
    type: 'text',
    inputmode: 'url',
    value: '',
    placeholder: config.webhook_url ?? 'aucune URL configurée',
    'data-testid': 'default-webhook-url',
  });
  const ssl = checkbox('Vérifier le certificat TLS', config.webhook_ssl_verify);
  const sending = checkbox('Envoi des webhooks activé', config.webhook_sending_enabled);
  const mode = select(
    [
      ['json', 'JSON (application/json)'],
      ['form', 'Formulaire (x-www-form-urlencoded)'],
    ],
    config.webhook_delivery_mode,
  );
  const fallback = checkbox('Réessayer dans l’autre format sur une réponse 415', config.webhook_fallback_on_415);
  const start = h('input', { value: config.webhook_time_start ?? '', placeholder: 'HH:MM', size: 6 });
  const end = h('input', { value: config.webhook_time_end ?? '', placeholder: 'HH:MM', size: 6 });
  const absence = checkbox('Pause d’absence activée', config.absence_pause_enabled);
  const days = DAYS.map(([value, label]) => ({ value, box: checkbox(label, config.absence_pause_days.includes(value)) }));
  const result = h('div', { 'aria-live': 'polite' });
  const payload = payloadEditor({ initial: config.payload });

  async function save(event: Event): Promise<void> {
    event.preventDefault();
    // The URL is sent only when edited: the masked value shown is never written back.
    const body: Record<string, unknown> = {
      webhook_ssl_verify: ssl.input.checked,
      webhook_sending_enabled: sending.input.checked,
      webhook_delivery_mode: mode.value,
      webhook_fallback_on_415: fallback.input.checked,
      webhook_time_start: start.value.trim(),
      webhook_time_end: end.value.trim(),
      absence_pause_enabled: absence.input.checked,
      absence_pause_days: days.filter((d) => d.box.input.checked).map((d) => d.value),
    };
    // The payload settings are written once they differ from the standard body (a document without them means standard).
    if (payload.value().format !== 'standard' || (config.payload && config.payload.format !== 'standard')) body.payload = payload.value();
    if (url.value.trim()) body.webhook_url = url.value.trim();
    try {
      const answer = await api<{ message: string; config: WebhookConfig }>('POST', '/api/webhooks/config', body);
      url.value = '';
      config.payload = answer.config.payload;
      url.placeholder = answer.config.webhook_url ?? 'aucune URL configurée';
      current.textContent = answer.config.effective_target ?? 'aucune';
      result.replaceChildren(h('p', { class: 'ok' }, answer.message));
      toast(answer.message);
    } catch (error) {
      result.replaceChildren(errorList(error));
    }
  }

  const current = h('code', { 'data-testid': 'effective-target' }, config.effective_target ?? 'aucune');
  section.append(
    h('h3', { id: 'wh-settings' }, 'Cible et envoi'),
    h('p', {}, 'Webhook par défaut (masqué) : ', current, config.webhook_url_source ? ` (source : ${config.webhook_url_source})` : ''),
    h(
      'form',
      { onSubmit: (e: Event) => void save(e) },
      labelled('Nouvelle URL du webhook par défaut', url, 'Laissez vide pour garder l’URL actuelle.'),
      h('div', { class: 'checks' }, ssl.wrap, sending.wrap, fallback.wrap),
      labelled('Format d’envoi', mode),
      h(
        'fieldset',
        {},
        h('legend', {}, 'Fenêtre horaire (fuseau du serveur de configuration)'),
        h('div', { class: 'grid-2' }, labelled('Début', start), labelled('Fin', end)),
        h('small', { class: 'hint' }, 'Deux champs vides : pas de restriction.'),
      ),
      h('fieldset', {}, h('legend', {}, 'Jours d’absence'), absence.wrap, h('div', { class: 'checks' }, ...days.map((d) => d.box.wrap))),
      h(
        'fieldset',
        { 'data-testid': 'default-payload' },
        h('legend', {}, 'Mise en forme du payload (webhook par défaut)'),
        payload.element,
      ),
      h('button', { type: 'submit', class: 'primary' }, 'Enregistrer'),
      result,
    ),
  );
}

function renderTools(section: HTMLElement): void {
  const secretOut = h('div', { 'aria-live': 'polite' });
  const testOut = h('div', { 'aria-live': 'polite', 'data-testid': 'test-webhook-result' });
  section.append(
    h('h3', { id: 'wh-tools' }, 'Secret et test'),
    h('p', {}, 'Le secret signe chaque webhook (en-têtes Standard Webhooks). Le nouveau secret n’est affiché qu’une fois.'),
    h(
      'button',
      {
        type: 'button',
        class: 'danger',
        onClick: async () => {
          if (!window.confirm('Générer un nouveau secret ? Les destinataires devront le recevoir.')) return;
          try {
            const answer = await api<{ secret: string; message: string }>('POST', '/api/webhooks/secret/rotate');
            const input = h('input', { readonly: true, value: answer.secret, class: 'mono', 'aria-label': 'Nouveau secret' });
            secretOut.replaceChildren(h('p', {}, answer.message), input);
            input.select();
          } catch (error) {
            secretOut.replaceChildren(errorList(error));
          }
        },
      },
      'Générer un nouveau secret',
    ),
    secretOut,
    h(
      'button',
      {
        type: 'button',
        class: 'primary',
        onClick: async () => {
          testOut.replaceChildren(h('p', {}, 'Envoi en cours…'));
          try {
            const answer = await api<Record<string, unknown>>('POST', '/api/webhooks/test', {});
            const delivered = answer.delivered === true;
            testOut.replaceChildren(
              h(
                'p',
                { class: delivered ? 'ok' : 'field-error' },
                delivered
                  ? `Webhook envoyé : HTTP ${String(answer.status)} en ${String(answer.duration_ms)} ms`
                  : `Échec : ${String(answer.message ?? answer.failure_reason)}`,
              ),
              h('pre', {}, JSON.stringify(answer, null, 2)),
            );
          } catch (error) {
            testOut.replaceChildren(errorList(error));
          }
        },
      },
      'Envoyer un webhook de test',
    ),
    testOut,
  );
}

type PrefValue = string | number | boolean | null | string[] | Record<string, string>;

interface RetrySchedule {
  attempts: number;
  delays_ms: number[];
  jitter: number;
  attempts_from: 'processing_prefs.retry_count' | 'DELIVERY_RETRY_SCHEDULE';
  floor_ms: number | null;
}

type PrefKind = 'bool' | 'int' | 'optional-int' | 'list' | 'priorities';
interface PrefField {
  key: string;
  label: string;
  help: string;
  kind: PrefKind;
  unit?: string;
  min?: number;
  max?: number;
}

/** Every processing preference, labelled (shown even when absent from the stored document). */
export const PREF_FIELDS: PrefField[] = [
  {
    key: 'exclude_keywords',
    label: 'Mots-clés exclus (tous les e-mails)',
    help: 'Un e-mail dont le sujet ou le corps contient l’un de ces mots n’est pas envoyé. Un mot par ligne ; accents et majuscules ignorés.',
    kind: 'list',
  },
  {
    key: 'exclude_keywords_recadrage',
    label: 'Mots-clés exclus — détecteur recadrage',
    help: 'Appliqués seulement aux e-mails reconnus comme recadrage (Média Solution). Un mot par ligne.',
    kind: 'list',
  },
  {
    key: 'exclude_keywords_autorepondeur',
    label: 'Mots-clés exclus — détecteur désabonnement (autorépondeur)',
    help: 'Appliqués seulement aux e-mails reconnus comme désabonnement / journée / tarifs. Un mot par ligne.',
    kind: 'list',
  },
  {
    key: 'require_attachments',
    label: 'Exiger un lien de téléchargement',
    help: 'Sans lien (Dropbox, FromSmash, SwissTransfer…), l’e-mail est ignoré.',
    kind: 'bool',
  },
  {
    key: 'max_email_size_mb',
    label: 'Taille maximale d’un e-mail',
    help: 'Au-delà, l’e-mail est ignoré. Vide : pas de limite.',
    kind: 'optional-int',
    unit: 'Mo',
    min: 1,
  },
  {
    key: 'sender_priority',
    label: 'Priorité par expéditeur',
    help: 'Une ligne par expéditeur : « adresse = high », « medium » ou « low ». Les e-mails « high » passent devant.',
    kind: 'priorities',
  },
  {
    key: 'retry_count',
    label: 'Nombre de réessais',
    help: '0 : le calendrier de réessais du serveur (DELIVERY_RETRY_SCHEDULE) décide. Sinon, ce nombre de réessais au plus.',
    kind: 'int',
    unit: 'réessais',
    min: 0,
    max: 10,
  },
  {
    key: 'retry_delay_sec',
    label: 'Délai minimal entre deux essais',
    help: 'Utilisé quand le nombre de réessais est fixé ci-dessus : aucun réessai ne part plus tôt.',
    kind: 'int',
    unit: 'secondes',
    min: 0,
    max: 600,
  },
  {
    key: 'webhook_timeout_sec',
    label: 'Délai d’attente de la réponse',
    help: 'Une cible qui ne répond pas dans ce délai compte comme un échec (réessayé).',
    kind: 'int',
    unit: 'secondes',
    min: 1,
    max: 300,
  },
  {
    key: 'rate_limit_per_hour',
    label: 'Envois maximum par heure et par cible',
    help: '0 : pas de limite. Au-delà, les envois attendent l’heure suivante (jamais perdus).',
    kind: 'int',
    unit: 'envois / heure',
    min: 0,
    max: 100000,
  },
  {
    key: 'notify_on_failure',
    label: 'Notifier les échecs définitifs',
    help: 'Un événement « delivery.failed » est envoyé à l’URL de notification d’échec (avec le lien vers le parcours de l’e-mail).',
    kind: 'bool',
  },
  {
    key: 'mirror_media_to_custom',
    label: 'Copier les médias vers la cible personnalisée',
    help: 'Réglage conservé de l’ancien serveur pour compatibilité : il n’a aucun effet sur les envois.',
    kind: 'bool',
  },
];

function seconds(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60_000) return `${Math.round(ms / 100) / 10} s`;
  if (ms < 3_600_000) return `${Math.round(ms / 6_000) / 10} min`;
  return `${Math.round(ms / 360_000) / 10} h`;
}

export function describeRetrySchedule(schedule: RetrySchedule | null): string {
  if (!schedule) return 'Calendrier de réessais inconnu : aucun worker ne l’a encore publié.';
  const delays = schedule.delays_ms.length ? schedule.delays_ms.map(seconds).join(', ') : 'aucun réessai';
  const jitter = schedule.jitter > 0 ? ` (±${Math.round(schedule.jitter * 100)} %)` : '';
  const source =
    schedule.attempts_from === 'processing_prefs.retry_count'
      ? `nombre fixé par « Nombre de réessais »${schedule.floor_ms ? `, au moins ${seconds(schedule.floor_ms)} entre deux essais` : ''}`
      : 'calendrier du serveur (DELIVERY_RETRY_SCHEDULE)';
  return `En vigueur : ${schedule.attempts} tentative(s) au plus — réessais après ${delays}${jitter} ; ${source}. Un Retry-After de la cible l’emporte.`;
}

/** Unsaved changes of any form registered here make the browser ask before leaving the page. */
const dirtyForms = new Set<string>();
window.addEventListener('beforeunload', (event) => {
  if (dirtyForms.size === 0) return;
  event.preventDefault();
  event.returnValue = '';
});

async function renderPrefs(section: HTMLElement): Promise<void> {
  const answer = await api<{ prefs: Record<string, PrefValue>; retry_schedule: RetrySchedule | null }>('GET', '/api/processing_prefs');
  const { prefs } = answer;
  const controls = new Map<string, () => unknown>();
  const fields: HTMLElement[] = [];
  const known = new Set(PREF_FIELDS.map((f) => f.key));
  const extra: PrefField[] = Object.keys(prefs)
    .filter((key) => !key.startsWith('_') && !known.has(key))
    .map((key) => ({
      key,
      label: key,
      help: '',
      kind: typeof prefs[key] === 'boolean' ? 'bool' : Array.isArray(prefs[key]) ? 'list' : 'int',
    }));
  const retryInfo = h('p', { class: 'hint', 'data-testid': 'retry-schedule' }, describeRetrySchedule(answer.retry_schedule));

  for (const field of [...PREF_FIELDS, ...extra]) {
    const value = prefs[field.key];
    const testid = `pref-${field.key}`;
    if (field.kind === 'bool') {
      const box = checkbox(field.label, value === true, { 'data-testid': testid });
      controls.set(field.key, () => box.input.checked);
      fields.push(h('div', { class: 'field' }, box.wrap, field.help ? h('small', { class: 'hint' }, field.help) : null));
    } else if (field.kind === 'int' || field.kind === 'optional-int') {
      const input = h('input', {
        type: 'number',
        value: typeof value === 'number' ? value : '',
        min: field.min,
        max: field.max,
        step: 1,
        'data-testid': testid,
      });
      controls.set(field.key, () => (input.value === '' ? (field.kind === 'optional-int' ? null : undefined) : Number(input.value)));
      const withUnit = h('div', { class: 'input-unit' }, input, field.unit ? h('span', { class: 'unit' }, field.unit) : null);
      const wrap = labelled(field.unit ? `${field.label} (${field.unit})` : field.label, input, field.help);
      wrap.insertBefore(withUnit, wrap.querySelector('small'));
      fields.push(wrap);
      if (field.key === 'retry_count' || field.key === 'retry_delay_sec') wrap.append(retryInfo);
    } else if (field.kind === 'list') {
      const area = h('textarea', { rows: 3, 'data-testid': testid });
      area.value = Array.isArray(value) ? value.join('\n') : '';
      controls.set(field.key, () =>
        area.value
          .split('\n')
          .map((s) => s.trim())
          .filter(Boolean),
      );
      fields.push(labelled(field.label, area, field.help));
    } else {
      const area = h('textarea', { rows: 3, class: 'mono', 'data-testid': testid });
      const current = value && typeof value === 'object' && !Array.isArray(value) ? value : {};
      area.value = Object.entries(current)
        .map(([sender, level]) => `${sender} = ${level}`)
        .join('\n');
      controls.set(field.key, () =>
        Object.fromEntries(
          area.value
            .split('\n')
            .map((line) => line.split('='))
            .filter((parts) => parts.length === 2 && parts[0]!.trim())
            .map(([sender, level]) => [sender!.trim(), level!.trim()]),
        ),
      );
      fields.push(labelled(field.label, area, field.help));
    }
  }
  const result = h('div', { 'aria-live': 'polite' });
  const unsaved = h(
    'p',
    { class: 'unsaved', role: 'status', hidden: true, 'data-testid': 'prefs-unsaved' },
    'Modifications non enregistrées.',
  );
  const markDirty = (dirty: boolean) => {
    if (dirty) dirtyForms.add('prefs');
    else dirtyForms.delete('prefs');
    unsaved.hidden = !dirty;
  };
  const form = h(
    'form',
    {
      'data-testid': 'prefs-form',
      onSubmit: async (event: Event) => {
        event.preventDefault();
        const body = Object.fromEntries([...controls].map(([key, read]) => [key, read()]).filter(([, v]) => v !== undefined));
        try {
          const saved = await api<{ message: string }>('POST', '/api/processing_prefs', body);
          result.replaceChildren(h('p', { class: 'ok' }, saved.message));
          toast(saved.message);
          markDirty(false);
          const fresh = await api<{ retry_schedule: RetrySchedule | null }>('GET', '/api/processing_prefs');
          retryInfo.textContent = describeRetrySchedule(fresh.retry_schedule);
        } catch (error) {
          result.replaceChildren(errorList(error));
        }
      },
    },
    h('div', { class: 'grid-2' }, ...fields),
    unsaved,
    h('button', { type: 'submit', class: 'primary' }, 'Enregistrer les préférences'),
    result,
  );
  form.addEventListener('input', () => markDirty(true));
  form.addEventListener('change', () => markDirty(true));
  section.append(
    h('h3', { id: 'wh-prefs' }, 'Préférences de traitement'),
    h('p', { class: 'hint' }, 'Appliquées à chaque e-mail dès l’enregistrement, par tous les workers (sans redémarrage).'),
    form,
  );
}

const FLAG_LABELS: Record<string, string> = {
  gmail_ingress_enabled: 'Ingestion Gmail activée',
  allow_custom_webhook_without_links: 'Envoyer même sans lien de téléchargement',
  disable_email_id_dedup: 'Désactiver la déduplication par email_id',
};

async function renderFlags(section: HTMLElement): Promise<void> {
  const { flags } = await api<{ flags: Record<string, boolean> }>('GET', '/api/get_runtime_flags');
  const boxes = Object.entries(flags).map(([key, value]) => ({ key, box: checkbox(FLAG_LABELS[key] ?? key, value) }));
  const result = h('div', { 'aria-live': 'polite' });
  section.append(
    h('h3', { id: 'wh-flags' }, 'Interrupteurs'),
    h(
      'form',
      {
        onSubmit: async (event: Event) => {
          event.preventDefault();
          try {
            const answer = await api<{ message: string }>(
              'POST',
              '/api/update_runtime_flags',
              Object.fromEntries(boxes.map((b) => [b.key, b.box.input.checked])),
            );
            result.replaceChildren(h('p', { class: 'ok' }, answer.message));
            toast(answer.message);
          } catch (error) {
            result.replaceChildren(errorList(error));
          }
        },
      },
      h('div', { class: 'checks' }, ...boxes.map((b) => b.box.wrap)),
      h('button', { type: 'submit', class: 'primary' }, 'Enregistrer les interrupteurs'),
      result,
    ),
  );
}
