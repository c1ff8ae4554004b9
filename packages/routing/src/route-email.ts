import { type EmailContent, parseSenderAddress } from '@render-signal/contracts';
import { leadingText, trailingText, type Detection } from '@render-signal/detectors';
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
  const views = fieldViews(email, detection, options);
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

export type TargetOrigin = 'default' | `rule:${string}`;

export interface RouteTarget {
  url: string;
  origin: TargetOrigin;
  priority: RulePriority;
  /** Set for rule targets; becomes the payload's `routing_rule`. */
  rule?: { id: string; name: string; priority: RulePriority };
}

export interface RuleMatch extends RuleEvaluation {
  /** Evaluation got this far (no earlier matching rule with stop_processing). */
  reached: boolean;
  /** Matched and reached: its target receives the email. */
  applied: boolean;
}

export interface RoutingDecision {
  targets: RouteTarget[];
  matches: RuleMatch[];
  /** Id of the matching rule whose stop_processing ended evaluation, if any. */
  stopped_by: string | null;
}

export interface RouteEmailInput {
  email: RoutableEmail;
  rules: readonly RoutingRule[];
  /** The default webhook (webhook_config.webhook_url, else env); null when none is configured. */
  defaultTarget: string | null;
  detection?: Detection;
  /** FIELD_SCAN_LIMIT_KB in characters (see EvaluateOptions). */
  scanLimit?: number;
}

/**
 * Where an email goes: rules in order, every matching rule adds its target; a matching rule with stop_processing ends
 * evaluation and suppresses the default; otherwise the default target also receives the email. Each URL receives the
 * email once (the first target for a URL wins).
 */
export function routeEmail(input: RouteEmailInput): RoutingDecision {
  const evaluations = evaluateRules(
    input.rules,
    input.email,
    input.detection,
    input.scanLimit === undefined ? {} : { scanLimit: input.scanLimit },
  );
  const targets: RouteTarget[] = [];
  const addTarget = (target: RouteTarget) => {
    if (!targets.some((existing) => existing.url === target.url)) targets.push(target);
  };

  let stoppedBy: string | null = null;
  const matches: RuleMatch[] = evaluations.map((evaluation, index) => {
    const reached = stoppedBy === null;
    const applied = reached && evaluation.matched;
    if (applied) {
      const rule = input.rules[index]!;
      const { priority } = rule.actions;
      addTarget({ url: rule.actions.webhook_url, origin: `rule:${rule.id}`, priority, rule: { id: rule.id, name: rule.name, priority } });
      if (rule.actions.stop_processing) stoppedBy = rule.id;
    }
    return { ...evaluation, reached, applied };
  });

  if (stoppedBy === null && input.defaultTarget) addTarget({ url: input.defaultTarget, origin: 'default', priority: 'normal' });
  return { targets, matches, stopped_by: stoppedBy };
}
