/**
 * The original validated its JSON with Python's `bool()` and `int()`. Existing scripts depend on what those accept
 * (`"3"` is 3; any non-empty string, even `"false"`, is true), so the config documents coerce the same way.
 */

/** Python truthiness of a JSON value: null, false, 0, "", [] and {} are false; everything else is true. */
export function pythonTruthy(value: unknown): boolean {
  if (value === null || value === undefined || value === false || value === '') return false;
  if (typeof value === 'number') return value !== 0 && !Number.isNaN(value);
  if (Array.isArray(value)) return value.length > 0;
  if (typeof value === 'object') return Object.keys(value).length > 0;
  return true;
}

/** Python's `str()` of a JSON scalar (`True`, `1.5`); containers as JSON text. */
export function pythonStr(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  if (value === null || value === undefined) return 'None';
  if (typeof value === 'number') return String(value);
  return JSON.stringify(value);
}

export type PythonIntResult = { ok: true; value: number } | { ok: false; message: string };

const INT_LITERAL = /^[+-]?[0-9](?:_?[0-9])*$/;

/** Python's `int()` of a JSON value, with its error messages (prefixed by the caller). */
export function pythonInt(value: unknown): PythonIntResult {
  if (typeof value === 'boolean') return { ok: true, value: value ? 1 : 0 };
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) {
      return {
        ok: false,
        message: Number.isNaN(value) ? 'cannot convert float NaN to integer' : 'cannot convert float infinity to integer',
      };
    }
    return { ok: true, value: Math.trunc(value) };
  }
  if (typeof value === 'string') {
    const text = value.trim();
    if (INT_LITERAL.test(text)) return { ok: true, value: Number(text.replace(/_/g, '')) };
    return { ok: false, message: `invalid literal for int() with base 10: '${value}'` };
  }
  const typeName = value === null || value === undefined ? 'NoneType' : Array.isArray(value) ? 'list' : 'dict';
  return { ok: false, message: `int() argument must be a string, a bytes-like object or a real number, not '${typeName}'` };
}
