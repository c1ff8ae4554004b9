import { type EmailContent, parseSenderAddress } from '@render-signal/contracts';
import { leadingText, trailingText, type Detection } from '@render-signal/detectors';
import type { PayloadSettings } from '@render-signal/contracts';
import type { RoutingCondition, RoutingRule, RuleField, RulePriority } from './routing-rules';
import { compileUserRegex } from './user-regex';

/** The parts of an email rules can look at. */
export type RoutableEmail = Pick<EmailContent, 'sender' | 'body'> & Partial<Pick<EmailContent, 'subject' | 'to' | 'cc' | 'snippet'>>;

export interface ConditionResult {
  field: RuleField;
  operator: RoutingCondition['operator'];
  value: string;
  matched: boolean;
}

export interface RuleEvaluation {
  id: string;
  name: string;
  enabled: boolean;
  match: 'all' | 'any';
  /** Enabled and its conditions hold. */
  matched: boolean;
  conditions: ConditionResult[];
}

/** What a condition compares against. `sender` is the bare lower-cased address, `body` the body as received. */
function fieldText(field: RuleField, email: RoutableEmail, detection: Detection | undefined): string {
  switch (field) {
    case 'sender':
      return parseSenderAddress(email.sender);
    case 'subject':
      return email.subject ?? '';
    case 'body':
      return email.body;
    case 'to':
      return email.to ?? '';
    case 'cc':
      return email.cc ?? '';
    case 'snippet':
      return email.snippet ?? '';
    case 'detector':
      return detection?.detector ?? '';
  }
}

/**
 * What a condition reads of a field. A field longer than the scan limit is read in bounded windows: `contains`,
 * `regex` and `starts_with` read its first `limit` characters, `ends_with` its last ones, and `equals` never holds
 * (a field longer than the limit equals no stored value). Lower-cased copies are made once per email and field.
 */
class FieldView {
  readonly whole: boolean;
  readonly head: string;
  private lowerHead?: string;
  private tailText?: string;
  private lowerTail?: string;

  constructor(
    private readonly text: string,
    private readonly limit: number,
  ) {
    this.whole = text.length <= limit;
    this.head = this.whole ? text : leadingText(text, limit);
  }

  start(caseSensitive: boolean): string {
    if (caseSensitive) return this.head;
    return (this.lowerHead ??= this.head.toLowerCase());
  }

  end(caseSensitive: boolean): string {
    if (this.whole) return this.start(caseSensitive);
    this.tailText ??= trailingText(this.text, this.limit);
    if (caseSensitive) return this.tailText;
    return (this.lowerTail ??= this.tailText.toLowerCase());
  }
}

function positiveMatch(operator: string, view: FieldView, condition: RoutingCondition): boolean | null {
  if (operator === 'regex') {
    const regex = compileUserRegex(condition.value, condition.case_sensitive);
    return regex ? regex.test(view.head) : null;
  }
  const needle = condition.case_sensitive ? condition.value : condition.value.toLowerCase();
  switch (operator) {
    case 'contains':
      return view.start(condition.case_sensitive).includes(needle);
    case 'equals':
      return view.whole && view.start(condition.case_sensitive) === needle;
    case 'starts_with':
      return view.start(condition.case_sensitive).startsWith(needle);
    case 'ends_with':
      return view.end(condition.case_sensitive).endsWith(needle);
    default:
      return null;
  }
}

export interface EvaluateOptions {
  /** FIELD_SCAN_LIMIT_KB in characters: how much of each field a condition reads (unbounded when absent). */
  scanLimit?: number;
}

type FieldViews = (field: RuleField) => FieldView;

function fieldViews(email: RoutableEmail, detection: Detection | undefined, options: EvaluateOptions): FieldViews {
  const views = new Map<RuleField, FieldView>();
  const limit = options.scanLimit ?? Number.POSITIVE_INFINITY;
  return (field) => {
    let view = views.get(field);
    if (!view) views.set(field, (view = new FieldView(fieldText(field, email, detection), limit)));
    return view;
  };
}

function evaluateWith(condition: RoutingCondition, views: FieldViews): boolean {
  if (!condition.value) return false;
  const negated = condition.operator.startsWith('not_');
  const operator = negated ? condition.operator.slice('not_'.length) : condition.operator;
  const result = positiveMatch(operator, views(condition.field), condition);
  if (result === null) return false;
  return negated ? !result : result;
}

/** A condition that cannot be evaluated (a regex that no longer compiles, an unknown operator) never matches. */
export function evaluateCondition(
  condition: RoutingCondition,
  email: RoutableEmail,
  detection?: Detection,
  options: EvaluateOptions = {},
): boolean {
  return evaluateWith(condition, fieldViews(email, detection, options));
}

/** Every rule's match result, in order (all rules are evaluated, for dry runs and logs). */
export function evaluateRules(
  rules: readonly RoutingRule[],
  email: RoutableEmail,
  detection?: Detection,
  options: EvaluateOptions = {},
): RuleEvaluation[] {
  return evaluateRulesWith(rules, fieldViews(email, detection, options));
}

function evaluateRulesWith(rules: readonly RoutingRule[], views: FieldViews): RuleEvaluation[] {
  return rules.map((rule) => {
    const conditions = rule.conditions.map((condition) => ({
      field: condition.field,
      operator: condition.operator,
      value: condition.value,
      matched: evaluateWith(condition, views),
    }));
    const holds = rule.match === 'any' ? conditions.some((c) => c.matched) : conditions.every((c) => c.matched);
    return { id: rule.id, name: rule.name, enabled: rule.enabled, match: rule.match, matched: rule.enabled && holds, conditions };
  });
}

/** Values a rule takes from the email: `extracted.<group name>`. */
export type Extracted = Record<string, string>;

/** The named groups of `pattern` found in the text read by a condition, added where absent. */
function extractInto(out: Extracted, pattern: string, caseSensitive: boolean, view: FieldView): void {
  const regex = compileUserRegex(pattern, caseSensitive);
  if (!regex) return;
  const names = Object.keys(regex.namedGroups());
  if (names.length === 0) return;
  const matcher = regex.matcher(view.head);
  if (!matcher.find()) return;
  for (const name of names) {
    const value = matcher.group(name);
    if (value !== null && value !== undefined && !(name in out)) out[name] = value;
  }
}

/**
 * What an applied rule extracts: the named groups of its matching `regex` conditions, then of its `extract` entries
 * (read like a condition: the first FIELD_SCAN_LIMIT_KB of the field). Nothing is done for a rule without named groups.
 */
function extractFor(rule: RoutingRule, evaluation: RuleEvaluation, views: FieldViews): Extracted | undefined {
  const out: Extracted = {};
  rule.conditions.forEach((condition, index) => {
    if (condition.operator === 'regex' && evaluation.conditions[index]?.matched) {
      extractInto(out, condition.value, condition.case_sensitive, views(condition.field));
    }
  });
  for (const entry of rule.extract ?? []) extractInto(out, entry.regex, entry.case_sensitive, views(entry.field));
  return Object.keys(out).length > 0 ? out : undefined;
}

export type TargetOrigin = 'default' | `rule:${string}`;

export interface RouteTarget {
  url: string;
  origin: TargetOrigin;
  priority: RulePriority;
  /** Set for rule targets; becomes the payload's `routing_rule`. */
  rule?: { id: string; name: string; priority: RulePriority };
  /** The body this target wants (the rule's `actions.payload`, the default's `webhook_config.payload`); absent: standard. */
  payload?: PayloadSettings;
}

export interface RuleMatch extends RuleEvaluation {
  /** Evaluation got this far (no earlier matching rule with stop_processing). */
  reached: boolean;
  /** Matched and reached: its target receives the email. */
  applied: boolean;
  /** What this rule extracted (applied rules only), before the first-applied-wins merge. */
  extracted?: Extracted;
}

/** A name extracted by two applied rules: the first applied rule's value is kept. */
export interface ExtractConflict {
  name: string;
  kept_from: string;
  ignored_from: string;
}

export interface RoutingDecision {
  targets: RouteTarget[];
  matches: RuleMatch[];
  /** Id of the matching rule whose stop_processing ended evaluation, if any. */
  stopped_by: string | null;
  /** The payload's `extracted`: every applied rule's values, the first applied rule winning a name. */
  extracted: Extracted;
  /** Names two applied rules extracted (the dry run shows them). */
  extract_conflicts: ExtractConflict[];
}

export interface RouteEmailInput {
  email: RoutableEmail;
  rules: readonly RoutingRule[];
  /** The default webhook (webhook_config.webhook_url, else env); null when none is configured. */
  defaultTarget: string | null;
  detection?: Detection;
  /** FIELD_SCAN_LIMIT_KB in characters (see EvaluateOptions). */
  scanLimit?: number;
  /** The default target's body (webhook_config.payload); absent: standard. */
  defaultPayload?: PayloadSettings;
}

/**
 * Where an email goes: rules in order, every matching rule adds its target; a matching rule with stop_processing ends
 * evaluation and suppresses the default; otherwise the default target also receives the email. Each URL receives the
 * email once (the first target for a URL wins).
 */
export function routeEmail(input: RouteEmailInput): RoutingDecision {
  const views = fieldViews(input.email, input.detection, input.scanLimit === undefined ? {} : { scanLimit: input.scanLimit });
  const evaluations = evaluateRulesWith(input.rules, views);
  const targets: RouteTarget[] = [];
  const addTarget = (target: RouteTarget) => {
    if (!targets.some((existing) => existing.url === target.url)) targets.push(target);
  };

  let stoppedBy: string | null = null;
  const extracted: Extracted = {};
  const owners = new Map<string, string>();
  const conflicts: ExtractConflict[] = [];
  const matches: RuleMatch[] = evaluations.map((evaluation, index) => {
    const reached = stoppedBy === null;
    const applied = reached && evaluation.matched;
    if (!applied) return { ...evaluation, reached, applied };
    const rule = input.rules[index]!;
    const { priority, payload } = rule.actions;
    addTarget({
      url: rule.actions.webhook_url,
      origin: `rule:${rule.id}`,
      priority,
      rule: { id: rule.id, name: rule.name, priority },
      ...(payload ? { payload } : {}),
    });
    if (rule.actions.stop_processing) stoppedBy = rule.id;
    const own = extractFor(rule, evaluation, views);
    for (const [name, value] of Object.entries(own ?? {})) {
      const owner = owners.get(name);
      if (owner === undefined) {
        extracted[name] = value;
        owners.set(name, rule.id);
      } else conflicts.push({ name, kept_from: owner, ignored_from: rule.id });
    }
    return { ...evaluation, reached, applied, ...(own ? { extracted: own } : {}) };
  });

  if (stoppedBy === null && input.defaultTarget) {
    addTarget({
      url: input.defaultTarget,
      origin: 'default',
      priority: 'normal',
      ...(input.defaultPayload ? { payload: input.defaultPayload } : {}),
    });
  }
  return { targets, matches, stopped_by: stoppedBy, extracted, extract_conflicts: conflicts };
}
