import jsonata from 'jsonata';
import { z } from 'zod';

/**
 * How a target wants its webhook body (`payload` on a rule's `actions` and on `webhook_config`):
 * - `standard`: the original's body, byte for byte (the kept contract; also what an absent `payload` means);
 * - `flat`: one level of keys for Make / n8n mapping (packages/delivery/src/payload-format.ts);
 * - `template`: a JSONata expression over the standard body plus `extracted`, `rule`, `target`, `idempotency_key`.
 * A template is checked when saved: at most 10 KB, valid JSONata, no regex literal (JavaScript regexes backtrack;
 * a template cannot hold a worker).
 */

export const PAYLOAD_FORMATS = ['standard', 'flat', 'template'] as const;
export type PayloadFormat = (typeof PAYLOAD_FORMATS)[number];

/** The largest template accepted, in UTF-8 bytes. */
export const MAX_TEMPLATE_BYTES = 10 * 1024;

export const payloadSettingsSchema = z.object({
  format: z.enum(PAYLOAD_FORMATS),
  template: z.string().optional(),
});
export type PayloadSettings = z.infer<typeof payloadSettingsSchema>;

/** A refused setting: where, why (French, shown as is), a machine-readable code, and for a template the position. */
export interface SettingsIssue {
  path: string;
  message: string;
  code: string;
  position?: number;
}

export type TemplateCheck = { ok: true; expression: jsonata.Expression } | { ok: false; code: string; message: string; position: number };

interface JsonataSyntaxError {
  code?: string;
  position?: number;
  message?: string;
}

/** The position of the first regex literal in a parsed template, if any. */
function regexPosition(node: unknown): number | undefined {
  if (Array.isArray(node)) {
    for (const item of node) {
      const found = regexPosition(item);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (typeof node !== 'object' || node === null) return undefined;
  const record = node as Record<string, unknown>;
  if (record.type === 'regex') return typeof record.position === 'number' ? record.position : 0;
  for (const value of Object.values(record)) {
    const found = regexPosition(value);
    if (found !== undefined) return found;
  }
  return undefined;
}

/**
 * Parses a template (no evaluation): the compiled expression, or why not with the 0-based character position
 * (JSONata's: the character after the offending token). Size, syntax and regex literals, in that order.
 */
export function compileTemplate(template: string, options?: jsonata.JsonataOptions): TemplateCheck {
  const bytes = Buffer.byteLength(template, 'utf8');
  if (bytes > MAX_TEMPLATE_BYTES) {
    return {
      ok: false,
      code: 'template_too_large',
      message: `Le modèle fait ${bytes} octets : au plus ${MAX_TEMPLATE_BYTES} (10 Ko).`,
      position: 0,
    };
  }
  if (!template.trim()) return { ok: false, code: 'template_required', message: 'Le modèle est vide.', position: 0 };
  let expression: jsonata.Expression;
  try {
    expression = jsonata(template, options);
  } catch (error) {
    const e = error as JsonataSyntaxError;
    const position = typeof e.position === 'number' ? e.position : 0;
    return {
      ok: false,
      code: 'template_syntax',
      message: `Erreur de syntaxe à la position ${position}${e.code ? ` (${e.code})` : ''} : ${e.message ?? String(error)}`,
      position,
    };
  }
  const regexAt = regexPosition(expression.ast());
  if (regexAt !== undefined) {
    return {
      ok: false,
      code: 'template_regex',
      message: `Expression régulière /…/ à la position ${regexAt} : non acceptée dans un modèle (utilisez les champs extraits par les règles).`,
      position: regexAt,
    };
  }
  return { ok: true, expression };
}

export type PayloadSettingsResult = { ok: true; value: PayloadSettings | undefined } | { ok: false; issues: SettingsIssue[] };

/**
 * A `payload` setting as an operator saves it (`path` names it in errors). Absent or null: undefined (standard,
 * nothing stored, so documents of the original load and save unchanged). The template is kept only for `template`.
 */
export function normalizePayloadSettings(raw: unknown, path: string): PayloadSettingsResult {
  if (raw === undefined || raw === null) return { ok: true, value: undefined };
  const fail = (code: string, message: string, at = path, position?: number): PayloadSettingsResult => ({
    ok: false,
    issues: [{ path: at, message, code, ...(position !== undefined ? { position } : {}) }],
  });
  if (typeof raw !== 'object' || Array.isArray(raw)) return fail('invalid_payload', `${path} doit être un objet { format, template }.`);
  const { format, template } = raw as { format?: unknown; template?: unknown };
  const chosen = format === undefined || format === null || format === '' ? 'standard' : format;
  if (typeof chosen !== 'string' || !(PAYLOAD_FORMATS as readonly string[]).includes(chosen)) {
    return fail('invalid_payload_format', `${path}.format doit être standard, flat ou template.`, `${path}.format`);
  }
  if (chosen !== 'template') return { ok: true, value: { format: chosen as PayloadFormat } };
  if (typeof template !== 'string' || !template.trim()) {
    return fail('template_required', `${path}.template est requis pour le format template.`, `${path}.template`);
  }
  const checked = compileTemplate(template);
  if (!checked.ok) return fail(checked.code, checked.message, `${path}.template`, checked.position);
  return { ok: true, value: { format: 'template', template } };
}
