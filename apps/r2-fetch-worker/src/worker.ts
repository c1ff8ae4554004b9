// r2-fetch-worker: POST / fetches an allowlisted remote file and streams it into R2, answering
// the contract the offload stage's `worker` mode expects (see ../README.md). A cron trigger
// deletes objects older than MAX_AGE_DAYS.

import { cleanupCutoff, deleteObjectsUploadedBefore } from './cleanup';
import { publicUrlFor, validateFetchRequest } from './fetch-request';
import type { FetchRequest } from './fetch-request';
import { attachmentDisposition, filenameFromContentDisposition, filenameFromUrl } from './filename';
import { streamIntoBucket } from './r2-upload';
import { readSettings } from './settings';
import type { WorkerSettings, WorkerVars } from './settings';
import { declaredLength, fetchSource } from './source-fetch';
import { checkSourceUrl } from './source-policy';
import { tokenMatches } from './token';

export interface Env extends WorkerVars {
  BUCKET: R2Bucket;
}

export interface SuccessAnswer {
  success: true;
  r2_url: string;
  object_key: string;
  original_filename: string;
  size_bytes: number;
  content_type: string;
  /** True when the object was already in the bucket and nothing was fetched. */
  already_stored: boolean;
}

export interface FailureAnswer {
  success: false;
  error: string;
  reason?: string;
}

const MAX_REQUEST_BODY_BYTES = 16 * 1024;
const DEFAULT_CONTENT_TYPE = 'application/octet-stream';
// R2 caps custom metadata at 2 KiB in total; these values are informational, so long ones are cut.
const METADATA_VALUE_LIMITS = { source_url: 1024, original_filename: 255, email_id: 128, provider: 32 } as const;

function answer(status: number, body: SuccessAnswer | FailureAnswer, headers: Record<string, string> = {}): Response {
  return Response.json(body, { status, headers: { 'Cache-Control': 'no-store', ...headers } });
}

function fail(status: number, error: string, reason?: string): Response {
  return answer(status, reason === undefined ? { success: false, error } : { success: false, error, reason });
}

function log(event: string, fields: Record<string, unknown>): void {
  console.log(JSON.stringify({ event, ...fields }));
}

function describeError(error: unknown): string {
  if (error instanceof Error) {
    const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
    return `${error.message}${cause}`;
  }
  return String(error);
}

/** Source URLs can carry access keys (Dropbox rlkey): logs get the host and path only. */
function loggableUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
  } catch {
    return '<invalid url>';
  }
}

function keyFilename(objectKey: string): string {
  return objectKey.slice(objectKey.lastIndexOf('/') + 1);
}

function success(settings: WorkerSettings & { publicBaseUrl: string }, fields: Omit<SuccessAnswer, 'success' | 'r2_url'>): Response {
  return answer(200, { success: true, r2_url: publicUrlFor(settings.publicBaseUrl, fields.object_key), ...fields });
}

async function readJson(request: Request): Promise<{ ok: true; value: unknown } | { ok: false; reason: string }> {
  const declared = Number(request.headers.get('Content-Length') ?? '0');
  if (declared > MAX_REQUEST_BODY_BYTES) return { ok: false, reason: 'body is too large' };
  const text = await request.text();
  if (text.length > MAX_REQUEST_BODY_BYTES) return { ok: false, reason: 'body is too large' };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false, reason: 'body must be JSON' };
  }
}

function metadataFor(request: FetchRequest, originalFilename: string): Record<string, string> {
  const metadata: Record<string, string> = {
    source_url: request.source_url.slice(0, METADATA_VALUE_LIMITS.source_url),
    provider: request.provider.slice(0, METADATA_VALUE_LIMITS.provider),
    original_filename: originalFilename.slice(0, METADATA_VALUE_LIMITS.original_filename),
  };
  if (request.email_id) metadata.email_id = request.email_id.slice(0, METADATA_VALUE_LIMITS.email_id);
  return metadata;
}

async function handleFetchRequest(request: Request, env: Env): Promise<Response> {
  const path = new URL(request.url).pathname;
  if (path !== '/') return fail(404, 'not_found');
  if (request.method !== 'POST') return answer(405, { success: false, error: 'method_not_allowed' }, { Allow: 'POST' });

  const settings = readSettings(env);
  const { publicBaseUrl } = settings;
  if (settings.token === undefined || publicBaseUrl === undefined) {
    log('r2_fetch.misconfigured', { token_set: settings.token !== undefined, public_base_url_set: publicBaseUrl !== undefined });
    return fail(500, 'misconfigured');
  }
  const configured = { ...settings, publicBaseUrl };

  if (!(await tokenMatches(request.headers.get('X-R2-FETCH-TOKEN'), settings.token))) return fail(401, 'unauthorized');

  const body = await readJson(request);
  if (!body.ok) return fail(400, 'invalid_request', body.reason);
  const validation = validateFetchRequest(body.value);
  if (!validation.ok) return fail(400, 'invalid_request', validation.reason);
  const fetchRequest = validation.request;
  if (settings.bucketName !== undefined && fetchRequest.bucket !== settings.bucketName) {
    return fail(400, 'invalid_request', 'bucket does not match the bucket bound to this Worker');
  }

  const policy = { allowedHosts: settings.allowedHosts, allowHttpSources: settings.allowHttpSources };
  const sourceCheck = checkSourceUrl(fetchRequest.source_url, policy);
  if (!sourceCheck.allowed) return fail(403, 'host_not_allowed', sourceCheck.reason);

  const logFields = { object_key: fetchRequest.object_key, email_id: fetchRequest.email_id, source: loggableUrl(fetchRequest.source_url) };
  const key = fetchRequest.object_key;

  // Keys are content-addressed by the source URL: an existing object is that file already.
  const existing = await env.BUCKET.head(key);
  if (existing) {
    log('r2_fetch.already_stored', logFields);
    return success(configured, {
      object_key: key,
      original_filename: existing.customMetadata?.original_filename || keyFilename(key),
      size_bytes: existing.size,
      content_type: existing.httpMetadata?.contentType || DEFAULT_CONTENT_TYPE,
      already_stored: true,
    });
  }

  const source = await fetchSource(sourceCheck.url, policy);
  switch (source.kind) {
    case 'refused':
      log('r2_fetch.redirect_refused', { ...logFields, redirect: loggableUrl(source.url), reason: source.reason });
      return fail(403, 'host_not_allowed', `redirect: ${source.reason}`);
    case 'failed':
      log('r2_fetch.source_failed', { ...logFields, error: describeError(source.error) });
      return fail(502, 'source_fetch_failed');
    case 'status':
      log('r2_fetch.source_status', { ...logFields, status: source.status });
      return fail(502, `source_status_${source.status}`);
    case 'too_many_redirects':
      log('r2_fetch.source_failed', { ...logFields, error: 'too many redirects' });
      return fail(502, 'source_fetch_failed', 'too many redirects');
    case 'ok':
      break;
  }

  const { response } = source;
  const originalFilename =
    filenameFromContentDisposition(response.headers.get('Content-Disposition')) ??
    filenameFromUrl(fetchRequest.source_url) ??
    keyFilename(key);
  const contentType = response.headers.get('Content-Type')?.trim() || DEFAULT_CONTENT_TYPE;

  const upload = await streamIntoBucket(
    env.BUCKET,
    key,
    response.body,
    declaredLength(response.headers),
    {
      httpMetadata: { contentType, contentDisposition: attachmentDisposition(originalFilename) },
      customMetadata: metadataFor(fetchRequest, originalFilename),
    },
    { maxBytes: settings.maxBytes, partBytes: settings.partBytes },
  );
  switch (upload.kind) {
    case 'too_large':
      log('r2_fetch.too_large', { ...logFields, max_bytes: settings.maxBytes });
      return fail(413, 'too_large');
    case 'source_failed':
      log('r2_fetch.source_failed', { ...logFields, error: describeError(upload.error) });
      return fail(502, 'source_fetch_failed');
    case 'store_failed':
      log('r2_fetch.store_failed', { ...logFields, error: describeError(upload.error) });
      return fail(500, 'store_failed');
    case 'stored':
      log('r2_fetch.stored', { ...logFields, size_bytes: upload.object.size });
      return success(configured, {
        object_key: key,
        original_filename: originalFilename,
        size_bytes: upload.object.size,
        content_type: contentType,
        already_stored: false,
      });
  }
}

export default {
  async fetch(request, env) {
    try {
      return await handleFetchRequest(request, env);
    } catch (error) {
      log('r2_fetch.internal_error', { error: describeError(error) });
      return fail(500, 'internal_error');
    }
  },

  async scheduled(controller, env) {
    const settings = readSettings(env);
    const cutoff = cleanupCutoff(controller.scheduledTime, settings.maxAgeDays);
    const result = await deleteObjectsUploadedBefore(env.BUCKET, cutoff, settings.cleanupPageSize);
    log('r2_cleanup.done', { cutoff: cutoff.toISOString(), ...result });
  },
} satisfies ExportedHandler<Env>;
