import {
  isLoopbackPlaceholderUrl,
  isPlaceholderUrl,
  normalizeMakeWebhookUrl,
  normalizePayloadSettings,
  payloadSettingsSchema,
  pythonStr,
  pythonTruthy,
} from '@render-signal/contracts';
import { z } from 'zod';
import { EXTRACT_NAME, isValidUserRegex, namedGroupsOf } from './user-regex';

/**
 * Routing rules: the original's stored documents (docs/original-behaviour.md, "Routing rules document") load unchanged; ours add fields
 * (`to`, `cc`, `snippet`,
 * `detector`), operators (`starts_with`, `ends_with`, `not_*`), `match: all|any` and `enabled`.
 */

export const RULE_FIELDS = ['sender', 'subject', 'body', 'to', 'cc', 'snippet', 'detector'] as const;
export type RuleField = (typeof RULE_FIELDS)[number];

const POSITIVE_OPERATORS = ['contains', 'equals', 'regex', 'starts_with', 'ends_with'] as const;
export const RULE_OPERATORS = [
  ...POSITIVE_OPERATORS,
  'not_contains',
  'not_equals',
  'not_regex',
  'not_starts_with',
  'not_ends_with',
] as const;
export type RuleOperator = (typeof RULE_OPERATORS)[number];

export const RULE_PRIORITIES = ['normal', 'high'] as const;
export type RulePriority = (typeof RULE_PRIORITIES)[number];
export const RULE_MATCH_MODES = ['all', 'any'] as const;

/** A rule as stored and evaluated (normalised). */
export const routingConditionSchema = z.object({
  field: z.enum(RULE_FIELDS),
  operator: z.enum(RULE_OPERATORS),
  value: z.string().min(1),
  case_sensitive: z.boolean(),
});
export type RoutingCondition = z.infer<typeof routingConditionSchema>;

/** Ours: a field read only to extract values (RE2 with named groups), which does not decide the match. */
export const extractEntrySchema = z.object({
  field: z.enum(RULE_FIELDS),
  regex: z.string().min(1),
  case_sensitive: z.boolean(),
});
export type ExtractEntry = z.infer<typeof extractEntrySchema>;

export const routingRuleSchema = z.object({
  id: z.string().min(1),
  name: z.string().min(1),
  enabled: z.boolean(),
  match: z.enum(RULE_MATCH_MODES),
  conditions: z.array(routingConditionSchema).min(1),
  /** Ours: values taken from the email into the payload's `extracted` (with the conditions' named groups). */
  extract: z.array(extractEntrySchema).optional(),
  actions: z.object({
    webhook_url: z.string().min(1),
    priority: z.enum(RULE_PRIORITIES),
    stop_processing: z.boolean(),
    /** Ours: the body this rule's target gets (absent: standard). */
    payload: payloadSettingsSchema.optional(),
  }),
});
export type RoutingRule = z.infer<typeof routingRuleSchema>;

/** The original's messages (French), returned as `message` by the API. */
export const RULE_MESSAGES = {
  notAList: 'rules doit être une liste.',
  ruleNotObject: 'Chaque règle doit être un objet.',
  nameRequired: 'Chaque règle doit avoir un nom.',
  conditionsRequired: 'Chaque règle doit contenir au moins une condition.',
  conditionNotObject: 'Condition invalide (objet attendu).',
  invalidField: 'Champ de condition invalide.',
  invalidOperator: 'Opérateur de condition invalide.',
  valueRequired: 'Valeur de condition requise.',
  invalidRegex: 'Expression régulière invalide.',
  actionsNotObject: 'Actions invalides (objet attendu).',
  webhookUrlRequired: 'webhook_url est requis pour chaque règle.',
  webhookUrlNotHttps: 'webhook_url doit être une URL HTTPS valide.',
  webhookUrlPlaceholder: 'webhook_url ne peut pas être une URL placeholder (ex: example.com).',
  invalidPriority: 'priority invalide (normal|high).',
  invalidMatch: 'match invalide (all|any).',
  invalidEnabled: 'enabled doit être un booléen.',
  extractNotList: 'extract doit être une liste de { field, regex }.',
  extractNoGroup: 'Cette expression d’extraction n’a aucun groupe nommé (?<nom>…).',
  extractName: (name: string) => `Nom de groupe « ${name} » invalide : lettres, chiffres et _ , sans commencer par un chiffre.`,
  duplicateGroup: (name: string) => `Le groupe nommé « ${name} » apparaît deux fois dans cette règle.`,
} as const;

export interface RuleError {
  /** e.g. `rules[0].conditions[1].operator` */
  path: string;
  message: string;
  /** Set by our own checks (extraction, payload): `invalid_extract_name`, `duplicate_group_name`, `template_syntax`… */
  code?: string;
  /** A template error's character position. */
  position?: number;
}

export type NormalizeRulesResult = { ok: true; rules: RoutingRule[] } | { ok: false; message: string; errors: RuleError[] };

export interface NormalizeRulesOptions {
  /** Refuse placeholder hosts (example.com, localhost…). On by default: operators saving rules. */
  refusePlaceholderUrls?: boolean;
  /** ALLOW_PRIVATE_NETWORK: http:// and localhost / 127.0.0.1 targets are accepted. */
  allowPrivateNetwork?: boolean;
}

type JsonObject = Record<string, unknown>;
const isObject = (value: unknown): value is JsonObject => typeof value === 'object' && value !== null && !Array.isArray(value);

/** `str(x or default).strip()` as the original reads text fields. */
const textOr = (value: unknown, fallback: string) => (pythonTruthy(value) ? pythonStr(value) : fallback).trim();

function includes<T extends string>(list: readonly T[], value: string): value is T {
  return (list as readonly string[]).includes(value);
}

function normalizeCondition(raw: unknown, path: string, errors: RuleError[]): RoutingCondition | null {
  if (!isObject(raw)) {
    errors.push({ path, message: RULE_MESSAGES.conditionNotObject });
    return null;
  }
  const field = textOr(raw.field, '').toLowerCase();
  const operator = textOr(raw.operator, '').toLowerCase();
  const value = textOr(raw.value, '');
  const before = errors.length;
  if (!includes(RULE_FIELDS, field)) errors.push({ path: `${path}.field`, message: RULE_MESSAGES.invalidField });
  if (!includes(RULE_OPERATORS, operator)) errors.push({ path: `${path}.operator`, message: RULE_MESSAGES.invalidOperator });
  if (!value) errors.push({ path: `${path}.value`, message: RULE_MESSAGES.valueRequired });
  else if ((operator === 'regex' || operator === 'not_regex') && !isValidUserRegex(value)) {
    const groups = namedGroupsOf(value);
    errors.push(
      groups && 'duplicate' in groups
        ? { path: `${path}.value`, message: RULE_MESSAGES.duplicateGroup(groups.duplicate), code: 'duplicate_group_name' }
        : { path: `${path}.value`, message: RULE_MESSAGES.invalidRegex },
    );
  }
  if (errors.length > before || !includes(RULE_FIELDS, field) || !includes(RULE_OPERATORS, operator)) return null;
  // bool(x): the original's coercion, so the string "false" is true.
  return { field, operator, value, case_sensitive: pythonTruthy(raw.case_sensitive) };
}

function normalizeWebhookUrl(raw: unknown, path: string, errors: RuleError[], options: NormalizeRulesOptions): string | null {
  if (typeof raw !== 'string' || !raw.trim()) {
    errors.push({ path, message: RULE_MESSAGES.webhookUrlRequired });
    return null;
  }
  const url = normalizeMakeWebhookUrl(raw) ?? raw.trim();
  const schemeOk = url.startsWith('https://') || (options.allowPrivateNetwork === true && url.startsWith('http://'));
  if (!schemeOk || !URL.canParse(url)) {
    errors.push({ path, message: RULE_MESSAGES.webhookUrlNotHttps });
    return null;
  }
  const loopbackAllowed = options.allowPrivateNetwork === true && isLoopbackPlaceholderUrl(url);
  if (options.refusePlaceholderUrls !== false && isPlaceholderUrl(url) && !loopbackAllowed) {
    errors.push({ path, message: RULE_MESSAGES.webhookUrlPlaceholder });
    return null;
  }
  return url;
}

/**
 * The named groups of one regex of a rule: each must be an identifier and appear once in the whole rule
 * (conditions and `extract` entries). Returns how many it has (0 also when the pattern does not compile).
 */
function checkNamedGroups(pattern: string, path: string, seen: Set<string>, errors: RuleError[]): number {
  const groups = namedGroupsOf(pattern);
  if (groups && 'duplicate' in groups) {
    errors.push({ path, message: RULE_MESSAGES.duplicateGroup(groups.duplicate), code: 'duplicate_group_name' });
    return 0;
  }
  for (const name of groups?.names ?? []) {
    if (!EXTRACT_NAME.test(name)) errors.push({ path, message: RULE_MESSAGES.extractName(name), code: 'invalid_extract_name' });
    else if (seen.has(name)) errors.push({ path, message: RULE_MESSAGES.duplicateGroup(name), code: 'duplicate_group_name' });
    seen.add(name);
  }
  return groups?.names.length ?? 0;
}

function normalizeExtract(raw: unknown, path: string, seen: Set<string>, errors: RuleError[]): ExtractEntry[] | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (!Array.isArray(raw)) {
    errors.push({ path, message: RULE_MESSAGES.extractNotList, code: 'invalid_extract' });
    return undefined;
  }
  const entries: ExtractEntry[] = [];
  raw.forEach((item: unknown, index) => {
    const at = `${path}[${index}]`;
    if (!isObject(item)) {
      errors.push({ path: at, message: RULE_MESSAGES.extractNotList, code: 'invalid_extract' });
      return;
    }
    const field = textOr(item.field, '').toLowerCase();
    const regex = textOr(item.regex, '');
    if (!includes(RULE_FIELDS, field)) errors.push({ path: `${at}.field`, message: RULE_MESSAGES.invalidField, code: 'invalid_field' });
    const groups = namedGroupsOf(regex);
    if (groups && 'duplicate' in groups) checkNamedGroups(regex, `${at}.regex`, seen, errors);
    else if (!groups || !isValidUserRegex(regex))
      errors.push({ path: `${at}.regex`, message: RULE_MESSAGES.invalidRegex, code: 'invalid_regex' });
    else if (checkNamedGroups(regex, `${at}.regex`, seen, errors) === 0) {
      errors.push({ path: `${at}.regex`, message: RULE_MESSAGES.extractNoGroup, code: 'no_named_group' });
    }
    if (includes(RULE_FIELDS, field)) entries.push({ field, regex, case_sensitive: pythonTruthy(item.case_sensitive) });
  });
  return entries;
}

/**
 * Validates and normalises a rule list (docs/original-behaviour.md, "Routing rules document"): ids default to `rule-{n}` and duplicates
 * get `-{n}`; names default
 * to `Rule {n}`; fields, operators and priorities are lower-cased; regexes are at most 200 characters and valid RE2;
 * Make.com shorthands are expanded and HTTPS is required. Any error rejects the whole list; `message` is the first.
 */
export function normalizeRules(input: unknown, options: NormalizeRulesOptions = {}): NormalizeRulesResult {
  if (!Array.isArray(input))
    return { ok: false, message: RULE_MESSAGES.notAList, errors: [{ path: 'rules', message: RULE_MESSAGES.notAList }] };

  const errors: RuleError[] = [];
  const rules: RoutingRule[] = [];
  const usedIds = new Set<string>();

  input.forEach((raw: unknown, index) => {
    const path = `rules[${index}]`;
    const position = index + 1;
    if (!isObject(raw)) {
      errors.push({ path, message: RULE_MESSAGES.ruleNotObject });
      return;
    }

    let id = textOr(raw.id, `rule-${position}`) || `rule-${position}`;
    if (usedIds.has(id)) id = `${id}-${position}`;
    usedIds.add(id);

    const name = textOr(raw.name, `Rule ${position}`);
    if (!name) errors.push({ path: `${path}.name`, message: RULE_MESSAGES.nameRequired });

    const conditions: RoutingCondition[] = [];
    const groups = new Set<string>();
    if (!Array.isArray(raw.conditions) || raw.conditions.length === 0) {
      errors.push({ path: `${path}.conditions`, message: RULE_MESSAGES.conditionsRequired });
    } else {
      raw.conditions.forEach((condition: unknown, conditionIndex) => {
        const normalised = normalizeCondition(condition, `${path}.conditions[${conditionIndex}]`, errors);
        if (normalised) conditions.push(normalised);
        if (normalised?.operator === 'regex')
          checkNamedGroups(normalised.value, `${path}.conditions[${conditionIndex}].value`, groups, errors);
      });
    }
    const extract = normalizeExtract(raw.extract, `${path}.extract`, groups, errors);

    let actions: RoutingRule['actions'] | null = null;
    if (!isObject(raw.actions)) {
      errors.push({ path: `${path}.actions`, message: RULE_MESSAGES.actionsNotObject });
    } else {
      const webhookUrl = normalizeWebhookUrl(raw.actions.webhook_url, `${path}.actions.webhook_url`, errors, options);
      const priority = textOr(raw.actions.priority, 'normal').toLowerCase();
      if (!includes(RULE_PRIORITIES, priority)) errors.push({ path: `${path}.actions.priority`, message: RULE_MESSAGES.invalidPriority });
      const payload = normalizePayloadSettings(raw.actions.payload, `${path}.actions.payload`);
      if (!payload.ok) errors.push(...payload.issues);
      if (webhookUrl && includes(RULE_PRIORITIES, priority)) {
        actions = { webhook_url: webhookUrl, priority, stop_processing: pythonTruthy(raw.actions.stop_processing) };
        if (payload.ok && payload.value) actions.payload = payload.value;
      }
    }

    // Our additions: absent in the original's documents, strict when present.
    const match = raw.match === undefined || raw.match === null ? 'all' : textOr(raw.match, '').toLowerCase();
    if (!includes(RULE_MATCH_MODES, match)) errors.push({ path: `${path}.match`, message: RULE_MESSAGES.invalidMatch });
    const enabled = raw.enabled === undefined || raw.enabled === null ? true : raw.enabled;
    if (typeof enabled !== 'boolean') errors.push({ path: `${path}.enabled`, message: RULE_MESSAGES.invalidEnabled });

    if (errors.length === 0 && actions && includes(RULE_MATCH_MODES, match) && typeof enabled === 'boolean') {
      rules.push({ id, name, enabled, match, conditions, ...(extract && extract.length > 0 ? { extract } : {}), actions });
    }
  });

  if (errors.length > 0) return { ok: false, message: errors[0]!.message, errors };
  return { ok: true, rules };
}

/**
 * The stored `routing_rules` document: `{rules, _updated_at}` as the original wrote it, plus our `_revision`.
 * Loading validates the rules like a save, but without refusing placeholder URLs (an old document must still load).
 */
export const routingRulesDocumentSchema = z
  .object({
    rules: z.unknown().optional(),
    _updated_at: z.string().nullable().optional(),
    _revision: z.number().int().min(0).default(0),
  })
  .transform((document, ctx) => {
    const normalised = normalizeRules(document.rules ?? [], { refusePlaceholderUrls: false, allowPrivateNetwork: true });
    if (!normalised.ok) {
      for (const error of normalised.errors) ctx.addIssue({ code: 'custom', message: error.message, path: [error.path] });
      return z.NEVER;
    }
    return { rules: normalised.rules, _updated_at: document._updated_at ?? null, _revision: document._revision };
  });
export type RoutingRulesDocument = z.output<typeof routingRulesDocumentSchema>;
