import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GetObjectCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import got, { type PlainResponse } from 'got';
import { attachmentDisposition, filenameFromContentDisposition } from './content-disposition';
import { OffloadAbort } from './result';
import { guardedSourceRequestOptions, findBlockedUrlError, type SourcePolicy } from './source-policy';
import type { OffloadS3Settings } from './settings';

export const OFFLOAD_USER_AGENT = 'render-signal/r2-offload';

/**
 * An S3 client for any S3-compatible store. Path-style addressing because MinIO/s3rver and custom
 * endpoints do not serve virtual-host buckets; checksums only when an operation requires them, because
 * the SDK's default CRC trailers (aws-chunked bodies) are rejected by R2 for some operations and by
 * most S3 emulators.
 */
export function createStoreClient(s3: OffloadS3Settings): S3Client {
  return new S3Client({
    region: s3.region ?? 'auto',
    endpoint: s3.endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    // A dead store must fail the offload, not retry it past the deadline.
    maxAttempts: 2,
  });
}

export interface ObjectStore {
  client: S3Client;
  bucket: string;
  /** `${publicBaseUrl}/${key}` when set (R2 public bucket / custom domain), else a presigned GET. */
  publicBaseUrl?: string;
  presignExpirySeconds: number;
}

/** Each key segment percent-encoded, `/` kept: keys hold decoded file names (spaces, accents). */
function encodeKeyPath(key: string): string {
  return key.split('/').map(encodeURIComponent).join('/');
}

export async function publicUrlFor(store: ObjectStore, key: string): Promise<string> {
  if (store.publicBaseUrl) return `${store.publicBaseUrl.replace(/\/+$/, '')}/${encodeKeyPath(key)}`;
  return getSignedUrl(store.client, new GetObjectCommand({ Bucket: store.bucket, Key: key }), {
    expiresIn: store.presignExpirySeconds,
  });
}

/** True when the object is still in the bucket (a cached offload is only reused then). */
export async function objectExists(store: ObjectStore, key: string, signal: AbortSignal): Promise<boolean> {
  try {
    await store.client.send(new HeadObjectCommand({ Bucket: store.bucket, Key: key }), { abortSignal: signal });
    return true;
  } catch {
    return false;
  }
}

export interface DirectTransferRequest {
  sourceUrl: string;
  objectKey: string;
  /** Filename from the key, used when the source sends no Content-Disposition. */
  fallbackFilename: string;
  policy: SourcePolicy;
  /** Wait for the source's headers, and longest silence of the source while the upload waits for data. */
  timeoutMs: number;
  maxBytes: number;
  /** Memory bound ≈ (queueSize + 1) × partSize: queueSize parts in flight plus the one being filled. */
  partSize: number;
  queueSize: number;
  store: ObjectStore;
  /** Aborted at the caller's deadline; the transfer then stops both the download and the upload. */
  signal: AbortSignal;
}

export interface DirectTransferResult {
  bytes: number;
  originalFilename: string;
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/** Maps a got stream error to the failure it means for the offload. */
function sourceFailureFrom(error: unknown): OffloadAbort {
  const blocked = findBlockedUrlError(error);
  if (blocked) return new OffloadAbort('source_not_allowed', `${blocked.reason}: ${blocked.message}`);
  const code = (error as { code?: string }).code;
  if (code === 'ERR_PRIVATE_ADDRESS') return new OffloadAbort('source_not_allowed', 'private_address');
  if (code === 'ETIMEDOUT' || (error as { name?: string }).name === 'TimeoutError') {
    return new OffloadAbort('source_timeout', describe(error));
  }
  return new OffloadAbort('source_error', describe(error));
}

/**
 * Streams a source into the store without holding it: got's stream feeds lib-storage's multipart
 * Upload, which buffers at most queueSize parts (+ the one it is filling). The size cap is enforced
 * twice: from Content-Length before anything is uploaded, and by counting bytes as they pass (sources
 * may omit or lie about Content-Length); crossing it aborts the multipart upload so no partial object
 * or orphaned parts remain (leavePartsOnError: false).
 *
 * Throws OffloadAbort with the first failure observed (later errors are consequences of it).
 */
export async function transferDirect(request: DirectTransferRequest): Promise<DirectTransferResult> {
  const { signal, maxBytes, timeoutMs } = request;
  let firstFailure: OffloadAbort | undefined;
  const fail = (abort: OffloadAbort): OffloadAbort => (firstFailure ??= abort);
  if (signal.aborted) throw fail(new OffloadAbort('deadline', 'deadline reached before the transfer started'));

  const source = got.stream(request.sourceUrl, {
    ...guardedSourceRequestOptions(request.policy),
    // Until the headers arrive. No socket idle timeout: while the store is slower than the source,
    // backpressure pauses the socket and that silence is not the source's fault (see the watchdog below).
    timeout: { lookup: timeoutMs, connect: timeoutMs, secureConnect: timeoutMs, response: timeoutMs },
    retry: { limit: 0 },
    throwHttpErrors: false,
    // Files are stored as served; asking for gzip would change the bytes and invalidate Content-Length.
    decompress: false,
    headers: { 'user-agent': OFFLOAD_USER_AGENT },
    signal,
  });
  // Listening for the whole life of the stream: an unhandled 'error' would crash the process.
  source.on('error', (error: unknown) => {
    fail(signal.aborted ? new OffloadAbort('deadline', 'deadline reached during download') : sourceFailureFrom(error));
  });

  const response = await new Promise<PlainResponse | undefined>((resolve) => {
    source.once('response', resolve);
    source.once('error', () => resolve(undefined));
  });
  if (!response) throw firstFailure ?? new OffloadAbort('source_error', 'no response');

  if (response.statusCode < 200 || response.statusCode >= 300) {
    source.destroy();
    throw fail(new OffloadAbort('source_status', `source answered HTTP ${response.statusCode}`));
  }
  const declaredLength = Number(response.headers['content-length']);
  if (Number.isFinite(declaredLength) && declaredLength > maxBytes) {
    source.destroy();
    throw fail(new OffloadAbort('too_large', `Content-Length ${declaredLength} exceeds the ${maxBytes}-byte cap`));
  }

  let bytes = 0;
  let lastDataAt = Date.now();
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      lastDataAt = Date.now();
      bytes += chunk.length;
      if (bytes > maxBytes) {
        callback(fail(new OffloadAbort('too_large', `source exceeded the ${maxBytes}-byte cap while streaming`)));
        return;
      }
      callback(null, chunk);
    },
  });

  const originalFilename = filenameFromContentDisposition(response.headers['content-disposition']) ?? request.fallbackFilename;
  const contentType = response.headers['content-type'] ?? 'application/octet-stream';
  const upload = new Upload({
    client: request.store.client,
    params: {
      Bucket: request.store.bucket,
      Key: request.objectKey,
      Body: counter,
      ContentType: contentType,
      ContentDisposition: attachmentDisposition(originalFilename),
    },
    queueSize: request.queueSize,
    partSize: request.partSize,
    leavePartsOnError: false,
  });
  const stopUpload = () => {
    fail(new OffloadAbort('deadline', 'deadline reached during transfer'));
    void upload.abort();
  };
  signal.addEventListener('abort', stopUpload, { once: true });
  if (signal.aborted) stopUpload();

  // Stall watchdog: the source has `timeoutMs` to deliver each next chunk, counted only while the
  // upload side is waiting for data (a full buffer means the store is the slow one).
  const watchdog = setInterval(
    () => {
      if (counter.writableEnded) return; // the source is done; only the upload remains
      if (counter.readableLength >= counter.readableHighWaterMark) lastDataAt = Date.now();
      else if (Date.now() - lastDataAt > timeoutMs)
        source.destroy(fail(new OffloadAbort('source_timeout', `source sent nothing for ${timeoutMs} ms`)));
    },
    Math.max(10, Math.min(1_000, timeoutMs / 4)),
  );

  const downloading = pipeline(source, counter);
  const uploading = upload.done().catch((error: unknown) => {
    fail(new OffloadAbort('store_error', describe(error)));
    // The upload stopped reading: without this the download would wait on backpressure forever.
    counter.destroy(firstFailure);
    source.destroy();
    throw error;
  });
  const [downloaded, uploaded] = await Promise.allSettled([downloading, uploading]);
  clearInterval(watchdog);
  signal.removeEventListener('abort', stopUpload);

  if (firstFailure) throw firstFailure;
  if (downloaded.status === 'rejected') throw new OffloadAbort('source_error', describe(downloaded.reason));
  if (uploaded.status === 'rejected') throw new OffloadAbort('store_error', describe(uploaded.reason));
  return { bytes, originalFilename };
}
