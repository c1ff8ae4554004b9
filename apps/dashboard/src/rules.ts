import { api, ApiRequestError, errorMessage, type FieldError } from './api';
import { checkbox, h, labelled, select, toast, uid } from './dom';
import { payloadEditor, type PayloadSettings } from './payload-editor';

/** The routing-rules tab: a visual builder over POST /api/routing_rules, and a dry-run test panel. */

interface Condition {
  field: string;
  operator: string;
  value: string;
  case_sensitive: boolean;
}

/** A field read only to extract values (RE2 with named groups `(?<nom>…)`). */
interface ExtractEntry {
  field: string;
  regex: string;
  case_sensitive: boolean;
}

interface Rule {
  id?: string;
  name: string;
  enabled: boolean;
  match: 'all' | 'any';
  conditions: Condition[];
  extract?: ExtractEntry[];
  actions: { webhook_url: string; priority: 'normal' | 'high'; stop_processing: boolean; payload?: PayloadSettings };
}

interface RulesAnswer {
  config: { rules: Rule[]; _updated_at: string | null; _revision?: number };
}

const FIELDS: Array<[string, string]> = [
  ['sender', 'Expéditeur'],
  ['subject', 'Sujet'],
  ['body', 'Corps'],
  ['to', 'Destinataire (to)'],
  ['cc', 'Copie (cc)'],
  ['snippet', 'Extrait'],
  ['detector', 'Détecteur'],
];
const OPERATORS: Array<[string, string]> = [
  ['contains', 'Contient'],
  ['equals', 'Est égal à'],
  ['starts_with', 'Commence par'],
  ['ends_with', 'Se termine par'],
  ['regex', 'Regex'],
  ['not_contains', 'Ne contient pas'],
  ['not_equals', 'N’est pas égal à'],
  ['not_starts_with', 'Ne commence pas par'],
  ['not_ends_with', 'Ne se termine pas par'],
  ['not_regex', 'Ne correspond pas à la regex'],
];

const newCondition = (): Condition => ({ field: 'subject', operator: 'contains', value: '', case_sensitive: false });
const newRule = (n: number): Rule => ({
  name: `Règle ${n}`,
  enabled: true,
  match: 'all',
  conditions: [newCondition()],
  actions: { webhook_url: '', priority: 'normal', stop_processing: false },
});

export async function mountRules(root: HTMLElement): Promise<void> {
  let rules: Rule[] = [];
  let revision: number | undefined;
  /** Rules whose « Aperçu » is open: kept open when the list is drawn again (a field added, a 400). */
  const openPreviews = new WeakSet<Rule>();
  /** Inline errors from the last 400: path (`rules[0].conditions[1].value`) → message. */
  let errors = new Map<string, string>();

  const list = h('div', { class: 'rule-list', 'aria-live': 'polite' });
  const status = h('p', { class: 'status', role: 'status' });
  const summary = h('div', { class: 'error-summary', role: 'alert', hidden: true });

  const errorFor = (path: string, control: HTMLElement): HTMLElement | null => {
    const message = errors.get(path);
    if (!message) return null;
    const id = uid('err');
    control.setAttribute('aria-invalid', 'true');
    control.setAttribute('aria-describedby', id);
    return h('p', { class: 'field-error', id }, message);
  };

  function render(): void {
    list.replaceChildren(
      ...(rules.length === 0 ? [h('p', { class: 'empty' }, 'Aucune règle : chaque email part vers le webhook par défaut.')] : []),
      ...rules.map((rule, index) => renderRule(rule, index)),
    );
  }

  function renderRule(rule: Rule, index: number): HTMLElement {
    const base = `rules[${index}]`;
    const name = h('input', {
      value: rule.name,
      'data-testid': 'rule-name',
      onInput: (e: Event) => (rule.name = (e.target as HTMLInputElement).value),
    });
    const enabled = checkbox('Active', rule.enabled, { onChange: (e: Event) => (rule.enabled = (e.target as HTMLInputElement).checked) });
    const match = select(
      [
        ['all', 'Toutes les conditions (ET)'],
        ['any', 'Au moins une condition (OU)'],
      ],
      rule.match,
      { onChange: (e: Event) => (rule.match = (e.target as HTMLSelectElement).value as Rule['match']) },
    );
    const url = h('input', {
      type: 'text',
      inputmode: 'url',
      value: rule.actions.webhook_url,
      placeholder: 'https://hook.eu2.make.com/… ou jeton Make',
      'data-testid': 'rule-webhook-url',
      onInput: (e: Event) => (rule.actions.webhook_url = (e.target as HTMLInputElement).value),
    });
    const priority = select(
      [
        ['normal', 'Normale'],
        ['high', 'Haute'],
      ],
      rule.actions.priority,
      { onChange: (e: Event) => (rule.actions.priority = (e.target as HTMLSelectElement).value as Rule['actions']['priority']) },
    );
    const stop = checkbox('Arrêter le traitement après cette règle (pas de webhook par défaut)', rule.actions.stop_processing, {
      onChange: (e: Event) => (rule.actions.stop_processing = (e.target as HTMLInputElement).checked),
    });

    const conditions = rule.conditions.map((condition, ci) => {
      const path = `${base}.conditions[${ci}]`;
      const field = select(FIELDS, condition.field, {
        'aria-label': 'Champ',
        onChange: (e: Event) => (condition.field = (e.target as HTMLSelectElement).value),
      });
      const operator = select(OPERATORS, condition.operator, {
        'aria-label': 'Opérateur',
        onChange: (e: Event) => (condition.operator = (e.target as HTMLSelectElement).value),
      });
      const value = h('input', {
        value: condition.value,
        'aria-label': 'Valeur',
        'data-testid': 'condition-value',
        onInput: (e: Event) => (condition.value = (e.target as HTMLInputElement).value),
      });
      const caseSensitive = checkbox('Sensible à la casse', condition.case_sensitive, {
        onChange: (e: Event) => (condition.case_sensitive = (e.target as HTMLInputElement).checked),
      });
      const remove = h(
        'button',
        {
          type: 'button',
          class: 'secondary',
          'aria-label': `Supprimer la condition ${ci + 1}`,
          disabled: rule.conditions.length <= 1,
          onClick: () => {
            rule.conditions.splice(ci, 1);
            render();
          },
        },
        '✕',
      );
      return h(
        'div',
        { class: 'condition-row', role: 'group', 'aria-label': `Condition ${ci + 1}` },
        field,
        errorFor(`${path}.field`, field),
        operator,
        errorFor(`${path}.operator`, operator),
        value,
        caseSensitive.wrap,
        remove,
        errorFor(`${path}.value`, value),
        errorFor(path, value),
      );
    });

    const extracts = (rule.extract ?? []).map((entry, ei) => {
      const path = `${base}.extract[${ei}]`;
      const field = select(FIELDS, entry.field, {
        'aria-label': 'Champ lu',
        onChange: (e: Event) => (entry.field = (e.target as HTMLSelectElement).value),
      });
      const regex = h('input', {
        value: entry.regex,
        'aria-label': 'Regex d’extraction',
        'data-testid': 'extract-regex',
        placeholder: 'client\\s*:\\s*(?<client>\\S+)',
        onInput: (e: Event) => (entry.regex = (e.target as HTMLInputElement).value),
      });
      const remove = h(
        'button',
        {
          type: 'button',
          class: 'secondary',
          'aria-label': `Supprimer l’extraction ${ei + 1}`,
          onClick: () => {
            rule.extract?.splice(ei, 1);
            render();
          },
        },
        '✕',
      );
      return h(
        'div',
        { class: 'condition-row', role: 'group', 'aria-label': `Extraction ${ei + 1}` },
        field,
        errorFor(`${path}.field`, field),
        regex,
        remove,
        errorFor(`${path}.regex`, regex),
      );
    });
    // The preview runs on the rules as edited, so unsaved groups extract; a new rule gets the id the server gives it.
    const ruleId = rule.id ?? `rule-${index + 1}`;
    const payload = payloadEditor({
      initial: rule.actions.payload,
      open: openPreviews.has(rule),
      onToggle: (open) => (open ? openPreviews.add(rule) : openPreviews.delete(rule)),
      ruleContext: () => ({ rules: rules.map((r) => ({ ...r, id: r.id ?? `rule-${rules.indexOf(r) + 1}` })), rule_id: ruleId }),
      onChange: (value) => {
        if (value.format === 'standard' && !rule.actions.payload) return;
        rule.actions.payload = value;
      },
    });

    const move = (delta: number) => {
      const target = index + delta;
      if (target < 0 || target >= rules.length) return;
      const [moved] = rules.splice(index, 1);
      if (moved) rules.splice(target, 0, moved);
      errors = new Map();
      render();
    };

    return h(
      'fieldset',
      { class: `rule ${rule.enabled ? '' : 'rule-disabled'}`, 'data-testid': 'rule' },
      h('legend', {}, `#${index + 1} — ${rule.name || 'sans nom'}`),
      h(
        'div',
        { class: 'rule-toolbar' },
        h(
          'button',
          {
            type: 'button',
            class: 'secondary',
            'aria-label': `Monter la règle ${index + 1}`,
            disabled: index === 0,
            onClick: () => move(-1),
          },
          '↑ Monter',
        ),
        h(
          'button',
          {
            type: 'button',
            class: 'secondary',
            'aria-label': `Descendre la règle ${index + 1}`,
            disabled: index === rules.length - 1,
            onClick: () => move(1),
          },
          '↓ Descendre',
        ),
        h(
          'button',
          {
            type: 'button',
            class: 'danger',
            'aria-label': `Supprimer la règle ${index + 1}`,
            onClick: () => {
              if (!window.confirm(`Supprimer la règle « ${rule.name} » ? (effectif après enregistrement)`)) return;
              rules.splice(index, 1);
              errors = new Map();
              render();
            },
          },
          'Supprimer',
        ),
      ),
      h('div', { class: 'grid-2' }, labelled('Nom', name), h('div', { class: 'field' }, enabled.wrap)),
      errorFor(`${base}.name`, name),
      labelled('Correspondance', match),
      errorFor(`${base}.match`, match),
      h('div', { class: 'conditions' }, h('h4', {}, 'Conditions'), ...conditions, errorFor(`${base}.conditions`, list)),
      h(
        'button',
        {
          type: 'button',
          class: 'secondary',
          onClick: () => {
            rule.conditions.push(newCondition());
            render();
          },
        },
        '+ Ajouter une condition',
      ),
      h('h4', {}, 'Action'),
      labelled(
        'URL du webhook',
        url,
        'Une URL HTTPS, un jeton Make ou jeton@hook.eu2.make.com. Une URL masquée (…/***) garde la valeur enregistrée.',
      ),
      errorFor(`${base}.actions.webhook_url`, url),
      h('div', { class: 'grid-2' }, labelled('Priorité de livraison', priority), h('div', { class: 'field' }, stop.wrap)),
      errorFor(`${base}.actions.priority`, priority),
      h(
        'div',
        { class: 'conditions' },
        h('h4', {}, 'Champs extraits'),
        h(
          'small',
          { class: 'hint' },
          'Les groupes nommés (?<nom>…) des conditions regex et de ces extractions vont dans extracted.nom ; elles ne décident pas de la correspondance.',
        ),
        ...extracts,
      ),
      h(
        'button',
        {
          type: 'button',
          class: 'secondary',
          onClick: () => {
            (rule.extract ??= []).push({ field: 'body', regex: '', case_sensitive: false });
            render();
          },
        },
        '+ Ajouter une extraction',
      ),
      h('h4', {}, 'Mise en forme du payload'),
      payload.element,
      errorFor(`${base}.actions.payload.format`, payload.element),
      errorFor(`${base}.actions.payload.template`, payload.template),
    );
  }

  async function load(): Promise<void> {
    try {
      const answer = await api<RulesAnswer>('GET', '/api/routing_rules');
      rules = answer.config.rules.map((r) => ({
        ...r,
        conditions: r.conditions.map((c) => ({ ...c })),
        ...(r.extract ? { extract: r.extract.map((e) => ({ ...e })) } : {}),
        actions: { ...r.actions },
      }));
      revision = answer.config._revision;
      errors = new Map();
      summary.hidden = true;
      status.textContent = answer.config._updated_at
        ? `Dernière sauvegarde : ${new Date(answer.config._updated_at).toLocaleString('fr-FR')}`
        : 'Jamais enregistrées.';
      render();
    } catch (error) {
      status.textContent = `Chargement impossible : ${errorMessage(error)}`;
    }
  }

  function showErrors(fieldErrors: FieldError[], message: string): void {
    errors = new Map(fieldErrors.map((e) => [e.path, e.message]));
    summary.replaceChildren(h('strong', {}, message), h('ul', {}, ...fieldErrors.map((e) => h('li', {}, `${e.path} : ${e.message}`))));
    summary.hidden = false;
    render();
    list.querySelector<HTMLElement>('[aria-invalid="true"]')?.focus();
  }

  async function save(): Promise<void> {
    try {
      const answer = await api<RulesAnswer & { message: string }>('POST', '/api/routing_rules', {
        rules,
        ...(revision !== undefined ? { _revision: revision } : {}),
      });
      rules = answer.config.rules;
      revision = answer.config._revision;
      errors = new Map();
      summary.hidden = true;
      status.textContent = `${answer.message} Dernière sauvegarde : ${new Date().toLocaleTimeString('fr-FR')}`;
      render();
      toast(answer.message);
    } catch (error) {
      if (error instanceof ApiRequestError && error.status === 400) return showErrors(error.errors, error.message);
      if (error instanceof ApiRequestError && error.status === 409) {
        toast('Les règles ont été modifiées ailleurs : rechargez avant d’enregistrer.', 'error');
        return;
      }
      toast(`Échec de l’enregistrement : ${errorMessage(error)}`, 'error');
    }
  }

  root.append(
    h('h2', {}, 'Règles de routage'),
    h(
      'p',
      { class: 'intro' },
      'Les règles sont évaluées dans l’ordre : chaque règle qui correspond ajoute son webhook ; une règle avec « arrêter le traitement » termine l’évaluation et remplace le webhook par défaut.',
    ),
    h(
      'div',
      { class: 'toolbar' },
      h(
        'button',
        {
          type: 'button',
          onClick: () => {
            rules.push(newRule(rules.length + 1));
            render();
            list.querySelector<HTMLInputElement>('fieldset.rule:last-of-type input')?.focus();
          },
        },
        '+ Ajouter une règle',
      ),
      h('button', { type: 'button', class: 'primary', 'data-testid': 'save-rules', onClick: () => void save() }, 'Enregistrer les règles'),
      h('button', { type: 'button', class: 'secondary', onClick: () => void load() }, 'Recharger'),
    ),
    status,
    summary,
    list,
    renderTestPanel(() => rules),
  );
  await load();
}

interface DryRunAnswer {
  email_id: string;
  detection: unknown;
  skip: unknown;
  rules: Array<{ id: string; name: string; enabled: boolean; matched: boolean; reached: boolean; applied: boolean }>;
  stopped_by: string | null;
  extracted: Record<string, string>;
  extract_conflicts: Array<{ name: string; kept_from: string; ignored_from: string }>;
  deliveries: Array<{
    target: string;
    origin: string;
    priority: string;
    delivery_mode: string;
    payload: unknown;
    payload_size_bytes: number;
    payload_format: string;
    body?: string;
    bytes?: number;
    error?: { message: string; position: number | null };
  }>;
}

/** Dry run of the rules being edited on a pasted email: what matched and the exact payload (nothing is sent). */
function renderTestPanel(currentRules: () => Rule[]): HTMLElement {
  const subject = h('input', { value: '', 'data-testid': 'test-subject' });
  const sender = h('input', { value: '', placeholder: 'Nom <adresse@domaine>', 'data-testid': 'test-sender' });
  const body = h('textarea', { rows: 5, 'data-testid': 'test-body' });
  const output = h('div', { class: 'test-output', 'aria-live': 'polite', 'data-testid': 'test-output' });

  async function run(): Promise<void> {
    output.replaceChildren(h('p', {}, 'Test en cours…'));
    try {
      const answer = await api<DryRunAnswer>('POST', '/api/routing_rules/test', {
        email: { subject: subject.value, sender: sender.value, body: body.value, date: new Date().toUTCString() },
        rules: currentRules(),
      });
      const matched = answer.rules.filter((r) => r.applied);
      output.replaceChildren(
        h('p', {}, matched.length > 0 ? `Règle(s) appliquée(s) : ${matched.map((r) => r.name).join(', ')}` : 'Aucune règle ne correspond.'),
        answer.stopped_by ? h('p', {}, `Évaluation arrêtée par ${answer.stopped_by}.`) : '',
        answer.skip ? h('p', {}, `Email ignoré : ${JSON.stringify(answer.skip)}`) : '',
        Object.keys(answer.extracted).length > 0
          ? h(
              'p',
              { 'data-testid': 'test-extracted' },
              `Champs extraits : ${Object.entries(answer.extracted)
                .map(([k, v]) => `${k} = ${v}`)
                .join(', ')}`,
            )
          : '',
        ...answer.extract_conflicts.map((c) =>
          h(
            'p',
            { class: 'hint' },
            `« ${c.name} » extrait aussi par ${c.ignored_from} : la valeur de ${c.kept_from} (appliquée avant) est gardée.`,
          ),
        ),
        h(
          'table',
          {},
          h('caption', {}, 'Évaluation des règles'),
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              h('th', { scope: 'col' }, 'Règle'),
              h('th', { scope: 'col' }, 'Correspond'),
              h('th', { scope: 'col' }, 'Appliquée'),
            ),
          ),
          h(
            'tbody',
            {},
            ...answer.rules.map((r) =>
              h(
                'tr',
                {},
                h('td', {}, r.name),
                h('td', {}, r.matched ? 'oui' : 'non'),
                h('td', {}, r.applied ? 'oui' : r.reached ? 'non' : 'non atteinte'),
              ),
            ),
          ),
        ),
        h('h4', {}, `Envois prévus (${answer.deliveries.length})`),
        ...answer.deliveries.map((d) =>
          h(
            'details',
            { open: true },
            h('summary', {}, `${d.target} — ${d.origin} — priorité ${d.priority} — ${d.payload_size_bytes} octets`),
            h('pre', { 'data-testid': 'test-payload' }, JSON.stringify(d.payload, null, 2)),
            d.payload_format === 'standard'
              ? ''
              : d.error
                ? h('p', { class: 'field-error' }, `Modèle en échec (template_error) : ${d.error.message}`)
                : h(
                    'div',
                    {},
                    h('p', {}, `Corps envoyé (format ${d.payload_format === 'flat' ? 'plat' : 'modèle'}, ${d.bytes ?? 0} octets) :`),
                    h('pre', { 'data-testid': 'test-body-sent' }, d.body ?? ''),
                  ),
          ),
        ),
      );
    } catch (error) {
      const details = error instanceof ApiRequestError ? error.errors.map((e) => h('li', {}, `${e.path} : ${e.message}`)) : [];
      output.replaceChildren(
        h('p', { class: 'field-error', role: 'alert' }, `Test impossible : ${errorMessage(error)}`),
        details.length ? h('ul', {}, ...details) : '',
      );
    }
  }

  return h(
    'section',
    { class: 'panel', 'aria-labelledby': 'test-panel-title' },
    h('h3', { id: 'test-panel-title' }, 'Tester sur un email (simulation, rien n’est envoyé)'),
    h('div', { class: 'grid-2' }, labelled('Sujet', subject), labelled('Expéditeur', sender)),
    labelled('Corps (HTML ou texte)', body),
    h('button', { type: 'button', class: 'primary', onClick: () => void run() }, 'Tester les règles'),
    output,
  );
}
