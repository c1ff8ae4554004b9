// Streams a source body into R2 without holding the whole file in memory.
// R2 needs to know a stream's length up front: a declared length goes through a FixedLengthStream;
// an unknown length goes through a multipart upload, one fixed-size part buffered at a time.

export type UploadOutcome =
  | { kind: 'stored'; object: R2Object }
  | { kind: 'too_large' }
  | { kind: 'source_failed'; error: unknown }
  | { kind: 'store_failed'; error: unknown };

export interface UploadLimits {
  maxBytes: number;
  /** Size of every multipart part but the last (R2: equal sizes, at least 5 MiB). */
  partBytes: number;
}

class SourceReadError extends Error {
  constructor(cause: unknown) {
    super('reading the source body failed', { cause });
  }
}

async function readSource(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<ReadableStreamReadResult<Uint8Array>> {
  try {
    return await reader.read();
  } catch (error) {
    throw new SourceReadError(error);
  }
}

async function cancelQuietly(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<void> {
  try {
    await reader.cancel();
  } catch {
    // The source may already be closed or errored.
  }
}

async function putDeclaredLength(
  bucket: R2Bucket,
  key: string,
  body: ReadableStream<Uint8Array>,
  length: number,
  options: R2PutOptions,
): Promise<UploadOutcome> {
  const reader = body.getReader();
  let bytesRead = 0;
  let sourceError: SourceReadError | undefined;
  // A pass-through that records whether a failure came from the source side (network, short body)
  // or from R2, since both surface as a rejected put().
  const tracked = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const chunk = await readSource(reader);
        if (chunk.done) {
          if (bytesRead !== length) sourceError = new SourceReadError(new Error(`source sent ${bytesRead} of ${length} bytes`));
          controller.close();
          return;
        }
        bytesRead += chunk.value.byteLength;
        if (bytesRead > length) sourceError = new SourceReadError(new Error(`source sent more than ${length} bytes`));
        controller.enqueue(chunk.value);
      } catch (error) {
        sourceError = error instanceof SourceReadError ? error : new SourceReadError(error);
        controller.error(error);
      }
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
  const fixed = new FixedLengthStream(length);
  const piping = tracked.pipeTo(fixed.writable);
  const [put] = await Promise.allSettled([bucket.put(key, fixed.readable, options), piping]);
  if (sourceError) return { kind: 'source_failed', error: sourceError };
  if (put.status === 'rejected') return { kind: 'store_failed', error: put.reason };
  return { kind: 'stored', object: put.value };
}

async function putUnknownLength(
  bucket: R2Bucket,
  key: string,
  body: ReadableStream<Uint8Array>,
  options: R2PutOptions,
  limits: UploadLimits,
): Promise<UploadOutcome> {
  const reader = body.getReader();
  const part = new Uint8Array(limits.partBytes);
  let filled = 0;
  let total = 0;
  let upload: R2MultipartUpload | undefined;
  const parts: R2UploadedPart[] = [];

  const abortUpload = async (): Promise<void> => {
    try {
      await upload?.abort();
    } catch {
      // An unfinished upload is also cleaned by R2's lifecycle rules; nothing better to do here.
    }
  };

  try {
    for (;;) {
      const chunk = await readSource(reader);
      if (chunk.done) break;
      total += chunk.value.byteLength;
      if (total > limits.maxBytes) {
        await cancelQuietly(reader);
        await abortUpload();
        return { kind: 'too_large' };
      }
      let offset = 0;
      while (offset < chunk.value.byteLength) {
        const take = Math.min(limits.partBytes - filled, chunk.value.byteLength - offset);
        part.set(chunk.value.subarray(offset, offset + take), filled);
        filled += take;
        offset += take;
        if (filled === limits.partBytes) {
          upload ??= await bucket.createMultipartUpload(key, options);
          // Awaited before the buffer is refilled, so one part buffer is enough.
          parts.push(await upload.uploadPart(parts.length + 1, part));
          filled = 0;
        }
      }
    }
    if (!upload) {
      // Smaller than one part: a single put of what was buffered.
      return { kind: 'stored', object: await bucket.put(key, part.subarray(0, filled), options) };
    }
    if (filled > 0) parts.push(await upload.uploadPart(parts.length + 1, part.subarray(0, filled)));
    return { kind: 'stored', object: await upload.complete(parts) };
  } catch (error) {
    await cancelQuietly(reader);
    await abortUpload();
    if (error instanceof SourceReadError) return { kind: 'source_failed', error };
    return { kind: 'store_failed', error };
  }
}

export async function streamIntoBucket(
  bucket: R2Bucket,
  key: string,
  body: ReadableStream<Uint8Array> | null,
  length: number | undefined,
  options: R2PutOptions,
  limits: UploadLimits,
): Promise<UploadOutcome> {
  if (length !== undefined && length > limits.maxBytes) {
    await body?.cancel().catch(() => undefined);
    return { kind: 'too_large' };
  }
  if (body === null) {
    try {
      return { kind: 'stored', object: await bucket.put(key, new Uint8Array(0), options) };
    } catch (error) {
      return { kind: 'store_failed', error };
    }
  }
  if (length !== undefined) return putDeclaredLength(bucket, key, body, length, options);
  return putUnknownLength(bucket, key, body, options, limits);
}
