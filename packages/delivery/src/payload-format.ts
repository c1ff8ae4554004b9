import type { Expression } from 'jsonata';
import { compileTemplate, type DeliverWebhookJob, type DeliveryTarget, type PayloadSettings } from '@render-signal/contracts';
import { PermanentDeliveryError } from './errors';
import { serializeWebhookPayload } from './payload';

/**
 * The body a target wants, from the standard payload of its delivery (packages/delivery/src/payload.ts):
 * - `standard`: that payload serialised, byte for byte as before (no `payload_format` in the job: nothing runs here);
 * - `flat`: one level of keys for Make / n8n mapping (`flatPayload`);
 * - `template`: a JSONata expression over the standard payload plus `extracted`, `rule`, `target` and
 *   `idempotency_key` (`templateInput`), bounded in time, depth, sequence length and output size.
 * Rendered at each attempt from the job data (so a re-delivery with the current settings renders the fixed
 * template); a failure is a permanent `template_error` of that delivery, never another body.
 */

export interface RenderLimits {
  /**
   * TEMPLATE_TIMEOUT_MS: an evaluation that used this much CPU (or this + 1 s of wall time) fails; checked at every
   * evaluation step through JSONata's entry hook.
   */
  timeoutMs: number;
  /** WEBHOOK_MAX_BODY_BYTES: a rendered body larger than this fails. */
  maxBodyBytes: number;
  /** Evaluation depth (non-tail recursion) allowed. */
  maxDepth?: number;
  /** Longest sequence (array, range) a template may build. */
  maxSequence?: number;
}

export const DEFAULT_TEMPLATE_DEPTH = 200;
export const DEFAULT_TEMPLATE_SEQUENCE = 100_000;

/** What a formatted body is rendered from: the delivery job's fields. */
export type FormatSource = Pick<DeliverWebhookJob, 'payload' | 'webhook_id' | 'target' | 'payload_format' | 'extracted'>;

/** A template that failed: JSONata's message (and position when it has one), shown as is in the dashboard. */
export class TemplateError extends Error {
  constructor(
    message: string,
    readonly position?: number,
  ) {
    super(message);
    this.name = 'TemplateError';
  }
}

const text = (value: unknown): string => (typeof value === 'string' ? value : '');

/** The display name of `"Jean Dupont" <jean@x.fr>` (empty when the sender is a bare address). */
export function senderName(sender: string): string {
  const match = /^\s*"?([^"<]*?)"?\s*<[^>]*>\s*$/.exec(sender);
  return match ? match[1]!.trim() : '';
}

interface PayloadLink {
  raw_url?: unknown;
  r2_url?: unknown;
}

/**
 * The flat body: `email_id`, `subject`, `sender_email`, `sender_name`, `received_at`, `body_preview`, `detector`,
 * `delivery_time`, `link_1`…`link_n`, `r2_url_<i>` (links offloaded), `extracted_<name>`, `rule_name`,
 * `idempotency_key` (the webhook-id). Absent values are null, so a mapping sees every key.
 */
export function flatPayload(
  payload: Record<string, unknown>,
  extracted: Readonly<Record<string, string>>,
  idempotencyKey: string,
): Record<string, unknown> {
  const flat: Record<string, unknown> = {
    email_id: text(payload.email_id) || text(payload.microsoft_graph_email_id),
    subject: text(payload.subject),
    sender_email: text(payload.sender_email),
    sender_name: senderName(text(payload.sender_address)),
    received_at: text(payload.receivedDateTime),
    body_preview: text(payload.bodyPreview),
    detector: payload.detector ?? null,
    delivery_time: payload.delivery_time ?? null,
  };
  const links = Array.isArray(payload.delivery_links) ? (payload.delivery_links as PayloadLink[]) : [];
  links.forEach((link, index) => {
    flat[`link_${index + 1}`] = text(link.raw_url);
  });
  links.forEach((link, index) => {
    if (typeof link.r2_url === 'string') flat[`r2_url_${index + 1}`] = link.r2_url;
  });
  for (const [name, value] of Object.entries(extracted)) flat[`extracted_${name}`] = value;
  const rule = payload.routing_rule as { name?: unknown } | undefined;
  flat.rule_name = rule ? text(rule.name) : null;
  flat.idempotency_key = idempotencyKey;
  return flat;
}

/** `host[:port]` of a target: what a template may know of where it goes (never the secret path). */
function targetHost(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return '';
  }
}

/** What a template reads: the standard body plus `extracted`, `rule` (or null), `target` and `idempotency_key`. */
export function templateInput(
  payload: Record<string, unknown>,
  extracted: Readonly<Record<string, string>>,
  target: Pick<DeliveryTarget, 'url' | 'origin'>,
  idempotencyKey: string,
): Record<string, unknown> {
  return {
    ...payload,
    extracted: { ...extracted },
    rule: payload.routing_rule ?? null,
    target: { origin: target.origin, host: targetHost(target.url) },
    idempotency_key: idempotencyKey,
  };
}

interface JsonataRuntimeError {
  code?: string;
  message?: string;
  position?: number;
}

/** Compiles templates once (per text: a settings change brings a new text) and evaluates them within the limits. */
export interface PayloadRenderer {
  /** The rendered object, or a TemplateError. */
  renderTemplate(template: string, input: Record<string, unknown>): Promise<Record<string, unknown>>;
  /** The exact bytes of a target's body (standard, flat or template), or a TemplateError. */
  render(format: PayloadSettings | undefined, source: FormatSource): Promise<Buffer>;
}

const COMPILED_MAX = 256;

/** JSONata's hook, called at every evaluation step (its test suite's `timeboxExpression` uses it the same way). */
const EVALUATE_ENTRY = Symbol.for('jsonata.__evaluate_entry');

/** The clocks of one evaluation: wall time from its first step, CPU time read only once the wall time is over. */
interface EvaluationClock {
  wallStart: number;
  cpuStart: NodeJS.CpuUsage;
}

/**
 * The time bound of an evaluation, checked at each step: it fails once it has used `timeoutMs` of CPU, or after
 * `timeoutMs` + 1 s of wall time whatever happened. CPU rather than wall time first, so an evaluation of a few
 * steps is not failed for good (template_error is permanent) because the OS or a GC paused the process: a
 * runaway template burns CPU and is stopped as fast. CPU is read (1 µs) only once the wall time is over.
 */
function timeGuard(timeoutMs: number): (expr: unknown, input: unknown, environment: { base: object }) => void {
  const clocks = new WeakMap<object, EvaluationClock>();
  return (_expr, _input, environment) => {
    const base = environment.base;
    let clock = clocks.get(base);
    if (!clock) clocks.set(base, (clock = { wallStart: Date.now(), cpuStart: process.cpuUsage() }));
    const wall = Date.now() - clock.wallStart;
    if (wall <= timeoutMs) return;
    const cpu = process.cpuUsage(clock.cpuStart);
    if ((cpu.user + cpu.system) / 1000 > timeoutMs || wall > timeoutMs + 1_000) {
      throw { code: 'D1012', message: `Evaluation timeout after ${timeoutMs} milliseconds. Check for infinite loop` };
    }
  };
}

export function createPayloadRenderer(limits: RenderLimits): PayloadRenderer {
  const compiled = new Map<string, Expression | TemplateError>();
  // Depth and sequence length: JSONata's own guardrails, per evaluation. Time: our hook (timeGuard).
  const options = { stack: limits.maxDepth ?? DEFAULT_TEMPLATE_DEPTH, sequence: limits.maxSequence ?? DEFAULT_TEMPLATE_SEQUENCE };
  const guard = timeGuard(limits.timeoutMs);

  function compile(template: string): Expression {
    let expression = compiled.get(template);
    if (expression === undefined) {
      const checked = compileTemplate(template, options);
      if (checked.ok) checked.expression.assign(EVALUATE_ENTRY as unknown as string, guard);
      expression = checked.ok ? checked.expression : new TemplateError(checked.message, checked.position);
      if (compiled.size >= COMPILED_MAX) compiled.clear();
      compiled.set(template, expression);
    }
    if (expression instanceof TemplateError) throw expression;
    return expression;
  }

  const renderer: PayloadRenderer = {
    async renderTemplate(template, input) {
      const expression = compile(template);
      let result: unknown;
      try {
        result = await expression.evaluate(input);
      } catch (error) {
        const e = error as JsonataRuntimeError;
        const where = typeof e.position === 'number' ? ` (position ${e.position})` : '';
        throw new TemplateError(`${e.code ? `${e.code}: ` : ''}${e.message ?? String(error)}${where}`, e.position);
      }
      if (typeof result !== 'object' || result === null || Array.isArray(result)) {
        const got = result === undefined ? 'rien' : Array.isArray(result) ? 'une liste' : typeof result;
        throw new TemplateError(`Le modèle doit produire un objet JSON { … } (obtenu : ${got}).`);
      }
      return result as Record<string, unknown>;
    },
    async render(format, source) {
      if (!format || format.format === 'standard') return serializeWebhookPayload(source.payload);
      const extracted = source.extracted ?? {};
      if (format.format === 'flat') return serializeWebhookPayload(flatPayload(source.payload, extracted, source.webhook_id));
      const rendered = await renderer.renderTemplate(
        format.template ?? '',
        templateInput(source.payload, extracted, source.target, source.webhook_id),
      );
      const body = serializeWebhookPayload(rendered);
      if (body.length > limits.maxBodyBytes) {
        throw new TemplateError(`Le corps produit fait ${body.length} octets : au plus ${limits.maxBodyBytes} (WEBHOOK_MAX_BODY_BYTES).`);
      }
      return body;
    },
  };
  // JSONata's first evaluation in a process costs milliseconds (its code compiled by the JIT): paid here, not by
  // the first delivery of a template.
  void renderer.renderTemplate('{ "warm": $string(1) }', {}).catch(() => undefined);
  return renderer;
}

/**
 * The body of one delivery attempt: the standard payload's bytes at once (as before, nothing added on that path), or
 * for a flat / template target a function rendering them at the attempt; a template that fails is the attempt's
 * permanent failure `template_error` (journey, webhook log, dead letter), never another body.
 */
export function attemptBody(source: FormatSource, renderer: PayloadRenderer | undefined): Buffer | (() => Promise<Buffer>) {
  const format = source.payload_format;
  if (!format || format.format === 'standard') return serializeWebhookPayload(source.payload);
  return async () => {
    const started = Date.now();
    try {
      if (!renderer) throw new TemplateError('no payload renderer in this process');
      return await renderer.render(format, source);
    } catch (error) {
      if (!(error instanceof TemplateError)) throw error;
      throw new PermanentDeliveryError({
        failure_reason: 'template_error',
        response_excerpt: error.message,
        duration_ms: Date.now() - started,
      });
    }
  };
}
