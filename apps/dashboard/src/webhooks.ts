import { api, ApiRequestError, errorMessage } from './api';
import { checkbox, h, labelled, select, toast } from './dom';

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
    if (url.value.trim()) body.webhook_url = url.value.trim();
    try {
      const answer = await api<{ message: string; config: WebhookConfig }>('POST', '/api/webhooks/config', body);
      url.value = '';
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

async function renderPrefs(section: HTMLElement): Promise<void> {
  const { prefs } = await api<{ prefs: Record<string, PrefValue> }>('GET', '/api/processing_prefs');
  const controls = new Map<string, () => unknown>();
  const fields: HTMLElement[] = [];
  for (const [key, value] of Object.entries(prefs)) {
    if (key.startsWith('_')) continue;
    if (typeof value === 'boolean') {
      const box = checkbox(key, value);
      controls.set(key, () => box.input.checked);
      fields.push(h('div', { class: 'field' }, box.wrap));
    } else if (typeof value === 'number' || value === null) {
      const input = h('input', { type: 'number', value: value ?? '', min: 0 });
      controls.set(key, () => (input.value === '' ? null : Number(input.value)));
      fields.push(labelled(key, input));
    } else if (Array.isArray(value)) {
      const area = h('textarea', { rows: 3 });
      area.value = value.join('\n');
      controls.set(key, () =>
        area.value
          .split('\n')
          .map((s) => s.trim())
          .filter(Boolean),
      );
      fields.push(labelled(key, area, 'Une valeur par ligne.'));
    } else if (typeof value === 'object') {
      const area = h('textarea', { rows: 3, class: 'mono' });
      area.value = JSON.stringify(value, null, 2);
      controls.set(key, () => {
        try {
          return JSON.parse(area.value || '{}') as unknown;
        } catch {
          return area.value;
        }
      });
      fields.push(labelled(key, area, 'Objet JSON.'));
    } else {
      const input = h('input', { value: String(value) });
      controls.set(key, () => input.value);
      fields.push(labelled(key, input));
    }
  }
  const result = h('div', { 'aria-live': 'polite' });
  section.append(
    h('h3', { id: 'wh-prefs' }, 'Préférences de traitement'),
    h(
      'form',
      {
        onSubmit: async (event: Event) => {
          event.preventDefault();
          const body = Object.fromEntries([...controls].map(([key, read]) => [key, read()]));
          try {
            const answer = await api<{ message: string }>('POST', '/api/processing_prefs', body);
            result.replaceChildren(h('p', { class: 'ok' }, answer.message));
            toast(answer.message);
          } catch (error) {
            result.replaceChildren(errorList(error));
          }
        },
      },
      h('div', { class: 'grid-2' }, ...fields),
      h('button', { type: 'submit', class: 'primary' }, 'Enregistrer les préférences'),
      result,
    ),
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
