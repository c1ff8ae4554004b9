// The request body of POST / and its validation. The client (the offload stage) builds
// object_key as "<provider>/<sha256(url)[:8]>/<sha256(url)[8:16]>/<filename>".

export interface FetchRequest {
  source_url: string;
  object_key: string;
  bucket: string;
  provider: string;
  email_id?: string;
}

export type Validation = { ok: true; request: FetchRequest } | { ok: false; reason: string };

const OBJECT_KEY_PATTERN = /^([a-z0-9][a-z0-9_-]{0,31})\/[0-9a-f]{8}\/[0-9a-f]{8}\/([^/]+)$/;
const PROVIDER_PATTERN = /^[a-z0-9][a-z0-9_-]{0,31}$/;
// eslint-disable-next-line no-control-regex -- the point is to refuse control characters
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/;
const MAX_SOURCE_URL_LENGTH = 4096;
// R2 keys are limited to 1024 bytes.
const MAX_OBJECT_KEY_BYTES = 1024;
const MAX_EMAIL_ID_LENGTH = 256;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Why an object key is unacceptable, or undefined when it is fine. */
export function objectKeyProblem(key: string): string | undefined {
  if (key.includes('..')) return 'object_key must not contain ".."';
  if (CONTROL_CHARACTERS.test(key) || key.includes('\\')) return 'object_key contains forbidden characters';
  if (new TextEncoder().encode(key).byteLength > MAX_OBJECT_KEY_BYTES) return 'object_key is longer than 1024 bytes';
  if (!OBJECT_KEY_PATTERN.test(key)) return 'object_key must look like <provider>/<8 hex>/<8 hex>/<filename>';
  return undefined;
}

export function validateFetchRequest(body: unknown): Validation {
  if (!isRecord(body)) return { ok: false, reason: 'body must be a JSON object' };
  const { source_url, object_key, bucket, provider, email_id } = body;

  if (typeof source_url !== 'string' || source_url.trim() === '') return { ok: false, reason: 'source_url is required' };
  if (source_url.length > MAX_SOURCE_URL_LENGTH) return { ok: false, reason: 'source_url is too long' };
  if (!URL.canParse(source_url.trim())) return { ok: false, reason: 'source_url is not a valid URL' };

  if (typeof provider !== 'string' || !PROVIDER_PATTERN.test(provider)) {
    return { ok: false, reason: 'provider must be a lower-case identifier' };
  }
  if (typeof object_key !== 'string' || object_key === '') return { ok: false, reason: 'object_key is required' };
  const keyProblem = objectKeyProblem(object_key);
  if (keyProblem) return { ok: false, reason: keyProblem };
  if (!object_key.startsWith(`${provider}/`)) return { ok: false, reason: 'object_key must start with the provider' };

  if (typeof bucket !== 'string' || bucket.trim() === '') return { ok: false, reason: 'bucket is required' };

  if (email_id !== undefined && email_id !== null) {
    if (typeof email_id !== 'string' || email_id.length > MAX_EMAIL_ID_LENGTH || CONTROL_CHARACTERS.test(email_id)) {
      return { ok: false, reason: 'email_id must be a short string' };
    }
  }

  const request: FetchRequest = { source_url: source_url.trim(), object_key, bucket: bucket.trim(), provider };
  if (typeof email_id === 'string' && email_id !== '') request.email_id = email_id;
  return { ok: true, request };
}

/** The public URL of a stored object; each key segment is percent-encoded so filenames with spaces stay valid URLs. */
export function publicUrlFor(publicBaseUrl: string, objectKey: string): string {
  return `${publicBaseUrl}/${objectKey.split('/').map(encodeURIComponent).join('/')}`;
}
