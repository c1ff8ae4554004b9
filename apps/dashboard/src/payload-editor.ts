import { api, ApiRequestError, errorMessage } from './api';
import { h, labelled, select } from './dom';

/**
 * « Mise en forme du payload » and its « Aperçu », shared by the rule builder and the webhook settings: the format
 * (standard, plat, modèle JSONata), the template, and the body a target would get for one of the last emails
 * received or a pasted one (POST /api/payload/preview), updated as the operator types. Nothing is sent.
 */

export interface PayloadSettings {
  format: 'standard' | 'flat' | 'template';
  template?: string;
}

interface RecentEmail {
  email_id: string;
  subject: string;
  sender: string;
  received_at: string;
}

interface PreviewAnswer {
  format?: string;
  body?: string;
  bytes?: number;
  error?: { message: string; position: number | null };
  extracted?: Record<string, string>;
  extract_conflicts?: Array<{ name: string; kept_from: string; ignored_from: string }>;
  matched?: boolean;
}

export interface PayloadEditorOptions {
  initial: PayloadSettings | undefined;
  /** For a rule: the rules as edited (not saved yet) and this rule's id, so the preview extracts as it would. */
  ruleContext?: () => { rules: unknown[]; rule_id: string };
  onChange?: (value: PayloadSettings) => void;
  /** The « Aperçu » starts open (kept open across a re-render of the rule list) and reports when toggled. */
  open?: boolean;
  onToggle?: (open: boolean) => void;
}

const FORMATS: Array<[PayloadSettings['format'], string]> = [
  ['standard', 'Standard (le corps habituel, inchangé)'],
  ['flat', 'Plat (une clé par champ : Make, n8n)'],
  ['template', 'Modèle JSONata'],
];

/** The last 20 emails received: fetched once for every editor drawn together, again when an « Aperçu » is opened. */
let recentEmails: Promise<RecentEmail[]> | undefined;
const loadRecentEmails = (fresh = false) => {
  if (fresh) recentEmails = undefined;
  return (recentEmails ??= api<{ emails: RecentEmail[] }>('GET', '/api/payload/emails')
    .then((a) => a.emails)
    .catch(() => {
      recentEmails = undefined;
      return [];
    }));
};

const kib = (bytes: number) => (bytes < 1024 ? `${bytes} octets` : `${(bytes / 1024).toFixed(1)} Ko (${bytes} octets)`);

export function payloadEditor(options: PayloadEditorOptions): {
  element: HTMLElement;
  value: () => PayloadSettings;
  template: HTMLTextAreaElement;
} {
  let value: PayloadSettings = options.initial ? { ...options.initial } : { format: 'standard' };
  const format = select(FORMATS, value.format, { 'aria-label': 'Format du payload', 'data-testid': 'payload-format' });
  const template = h('textarea', {
    rows: 6,
    spellcheck: false,
    class: 'code',
    'data-testid': 'payload-template',
    placeholder: '{ "numero": extracted.numero, "client": sender_email, "lien": delivery_links[0].raw_url, "cle": idempotency_key }',
  });
  template.value = value.template ?? '';
  const templateField = labelled(
    'Modèle JSONata (10 Ko au plus)',
    template,
    'Évalué sur le corps standard plus extracted, rule, target et idempotency_key ; il doit produire un objet JSON.',
  );

  const source = h('select', { 'aria-label': 'E-mail de l’aperçu', 'data-testid': 'preview-email' });
  const pasted = h('textarea', {
    rows: 4,
    'aria-label': 'E-mail collé (JSON de l’ingress)',
    'data-testid': 'preview-pasted',
    placeholder: '{ "subject": "Votre facture 2026", "sender": "Compta <compta@client.fr>", "date": "…", "body": "…" }',
  });
  const pastedField = h('div', { hidden: true }, labelled('E-mail collé (JSON : subject, sender, date, body)', pasted));
  const size = h('p', { class: 'hint', 'data-testid': 'preview-bytes' });
  const problem = h('p', { class: 'field-error', role: 'alert', hidden: true, 'data-testid': 'preview-error' });
  const body = h('pre', { class: 'preview-body', 'data-testid': 'preview-body' });
  const extracted = h('p', { class: 'hint', 'data-testid': 'preview-extracted' });

  const sync = () => {
    value =
      format.value === 'template'
        ? { format: 'template', template: template.value }
        : { format: format.value as PayloadSettings['format'] };
    templateField.hidden = format.value !== 'template';
    pastedField.hidden = source.value !== '__pasted__';
    options.onChange?.(value);
  };

  let sequence = 0;
  let timer: number | undefined;
  async function refresh(): Promise<void> {
    const mine = ++sequence;
    const request: Record<string, unknown> = value.format === 'template' ? { template: value.template ?? '' } : { format: value.format };
    if (source.value === '__pasted__') {
      try {
        request.email = JSON.parse(pasted.value || '{}') as unknown;
      } catch {
        problem.textContent = 'E-mail collé : JSON invalide.';
        problem.hidden = false;
        return;
      }
    } else if (source.value) request.email_id = source.value;
    else {
      body.textContent = '';
      size.textContent = 'Aucun e-mail reçu récemment : collez-en un.';
      return;
    }
    if (options.ruleContext) Object.assign(request, options.ruleContext());
    try {
      const answer = await api<PreviewAnswer>('POST', '/api/payload/preview', request);
      if (mine !== sequence) return; // a newer keystroke already asked
      if (answer.error) {
        problem.textContent =
          answer.error.position !== null ? `Erreur à la position ${answer.error.position} : ${answer.error.message}` : answer.error.message;
        problem.hidden = false;
        template.setAttribute('aria-invalid', 'true');
        return;
      }
      problem.hidden = true;
      template.removeAttribute('aria-invalid');
      const text = answer.body ?? '';
      try {
        body.textContent = JSON.stringify(JSON.parse(text), null, 2);
      } catch {
        body.textContent = text;
      }
      size.textContent = `Taille : ${kib(answer.bytes ?? 0)}${answer.matched === false ? ' — la règle ne correspond pas à cet e-mail' : ''}`;
      const names = Object.entries(answer.extracted ?? {});
      const clashes = (answer.extract_conflicts ?? []).map((c) => `${c.name} (gardé de ${c.kept_from}, ignoré de ${c.ignored_from})`);
      extracted.textContent =
        (names.length > 0 ? `Champs extraits : ${names.map(([k, v]) => `${k} = ${v}`).join(', ')}` : 'Aucun champ extrait.') +
        (clashes.length > 0 ? ` Conflits : ${clashes.join(' ; ')}` : '');
    } catch (error) {
      if (mine !== sequence) return;
      const details = error instanceof ApiRequestError && error.errors[0] ? ` (${error.errors[0].path})` : '';
      problem.textContent = `Aperçu impossible : ${errorMessage(error)}${details}`;
      problem.hidden = false;
    }
  }
  const schedule = () => {
    sync();
    window.clearTimeout(timer);
    timer = window.setTimeout(() => void refresh(), 250);
  };
  format.addEventListener('change', schedule);
  template.addEventListener('input', schedule);
  source.addEventListener('change', schedule);
  pasted.addEventListener('input', schedule);

  /** The email choices, the current one kept when still offered (else the newest, or the pasted one). */
  async function fillSources(fresh: boolean): Promise<void> {
    const emails = await loadRecentEmails(fresh);
    const chosen = source.value;
    source.replaceChildren(
      ...emails.map((e) =>
        h('option', { value: e.email_id }, `${new Date(e.received_at).toLocaleString('fr-FR')} — ${e.subject || '(sans sujet)'}`),
      ),
      h('option', { value: '__pasted__' }, 'Coller un e-mail…'),
    );
    if (chosen && [...source.options].some((o) => o.value === chosen)) source.value = chosen;
    else if (emails.length === 0) source.value = '__pasted__';
    sync();
  }
  void fillSources(false).then(() => (preview.open ? refresh() : undefined));
  sync();

  const preview = h(
    'details',
    {
      class: 'preview',
      open: options.open === true,
      onToggle: (e: Event) => {
        const open = (e.target as HTMLDetailsElement).open;
        options.onToggle?.(open);
        if (open) void fillSources(true).then(refresh);
      },
    },
    h('summary', { 'data-testid': 'preview-toggle' }, 'Aperçu'),
    labelled('E-mail', source, 'Un des 20 derniers e-mails reçus, ou un e-mail collé. Rien n’est envoyé.'),
    pastedField,
    problem,
    size,
    extracted,
    body,
  );
  const element = h(
    'div',
    { class: 'payload-editor', 'data-testid': 'payload-editor' },
    labelled('Format du payload', format),
    templateField,
    preview,
  );
  return { element, value: () => value, template };
}
