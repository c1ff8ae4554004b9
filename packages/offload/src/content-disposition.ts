import { percentDecode, safeFilename } from './source-url';

/**
 * The file name a source announces in Content-Disposition (RFC 6266): `filename*=UTF-8''…` wins over
 * `filename="…"`. Undefined when absent or empty. The result is safe for keys and headers' UTF-8 form.
 */
export function filenameFromContentDisposition(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const extended = /filename\*\s*=\s*([^;]+)/i.exec(header);
  if (extended?.[1]) {
    const value = extended[1].trim().replace(/^"|"$/g, '');
    const quote = value.indexOf("''");
    const encoded = quote === -1 ? value : value.slice(quote + 2);
    const decoded = percentDecode(encoded).trim();
    if (decoded) return safeFilename(decoded);
  }
  const plain = /filename\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;]+))/i.exec(header);
  const name = (plain?.[1]?.replace(/\\(.)/g, '$1') ?? plain?.[2])?.trim();
  return name ? safeFilename(name) : undefined;
}

/**
 * `attachment` with both an ASCII fallback and the UTF-8 name: HTTP header values must be Latin-1,
 * so the plain `filename` loses accents while `filename*` keeps them for clients that understand it.
 */
export function attachmentDisposition(filename: string): string {
  const ascii = filename.replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '_');
  const encoded = encodeURIComponent(filename).replace(/['()*!]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}
