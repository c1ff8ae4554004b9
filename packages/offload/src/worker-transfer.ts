import got from 'got';
import { guardedLookup, type NetworkPolicy } from '@render-signal/net-guard';
import { OFFLOAD_USER_AGENT } from './direct-transfer';
import { OffloadAbort } from './result';

/** The original's request to the remote-fetch Worker (docs/original-behaviour.md, "File offload"). `email_id` only when known. */
export interface WorkerFetchRequest {
  source_url: string;
  object_key: string;
  bucket: string;
  provider: string;
  email_id?: string;
}

export interface WorkerFetchAnswer {
  r2_url: string;
  original_filename?: string;
}

/**
 * The original's acceptance rule (docs/original-behaviour.md, "File offload"): only a 200 whose JSON has `success: true` and a string
 * `r2_url` counts; `original_filename` is kept when it is a non-empty string. Anything else is a bad answer.
 */
export function parseWorkerAnswer(statusCode: number, body: string): WorkerFetchAnswer | OffloadAbort {
  if (statusCode !== 200) return new OffloadAbort('worker_error', `worker answered HTTP ${statusCode}`);
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return new OffloadAbort('worker_bad_answer', 'worker answer is not JSON');
  }
  const answer = json as { success?: unknown; r2_url?: unknown; original_filename?: unknown };
  if (!answer || typeof answer !== 'object' || answer.success !== true) {
    return new OffloadAbort('worker_bad_answer', 'worker answer lacks success: true');
  }
  if (typeof answer.r2_url !== 'string' || answer.r2_url === '') {
    return new OffloadAbort('worker_bad_answer', 'worker answer lacks a string r2_url');
  }
  const filename =
    typeof answer.original_filename === 'string' && answer.original_filename.trim() !== '' ? answer.original_filename : undefined;
  return filename === undefined ? { r2_url: answer.r2_url } : { r2_url: answer.r2_url, original_filename: filename };
}

export interface WorkerTransferRequest {
  endpoint: string;
  token: string;
  body: WorkerFetchRequest;
  /** The whole Worker call (it streams the file before answering), as in the original. */
  timeoutMs: number;
  signal: AbortSignal;
}

/** Asks the Worker to pull the source into R2. Throws OffloadAbort on any failure. */
export async function transferViaWorker(request: WorkerTransferRequest): Promise<WorkerFetchAnswer> {
  let response;
  try {
    response = await got.post(request.endpoint, {
      json: request.body,
      headers: {
        'content-type': 'application/json',
        'user-agent': OFFLOAD_USER_AGENT,
        'x-r2-fetch-token': request.token,
      },
      responseType: 'text',
      throwHttpErrors: false,
      // One retry when a reused keep-alive socket was closed by the Worker's side meanwhile ("socket hang up"
      // before any answer). Safe: the Worker checks the content-addressed key before fetching again.
      retry: { limit: 1, methods: ['POST'], errorCodes: ['ECONNRESET'], statusCodes: [] },
      timeout: { request: request.timeoutMs },
      signal: request.signal,
    });
  } catch (error) {
    if (request.signal.aborted) throw new OffloadAbort('deadline', 'deadline reached while waiting for the worker');
    const name = (error as { name?: string }).name;
    if (name === 'TimeoutError') throw new OffloadAbort('worker_timeout', `no answer within ${request.timeoutMs} ms`);
    throw new OffloadAbort('worker_error', error instanceof Error ? error.message : String(error));
  }
  const answer = parseWorkerAnswer(response.statusCode, response.body);
  if (answer instanceof OffloadAbort) throw answer;
  return answer;
}

/**
 * Worker mode's cache check: the r2_url is a public (CDN) URL, so a HEAD tells whether the object is
 * still there. Any non-2xx or network error counts as gone (the link is then transferred again).
 */
export async function publicObjectExists(url: string, policy: NetworkPolicy, timeoutMs: number, signal: AbortSignal): Promise<boolean> {
  try {
    const response = await got.head(url, {
      dnsLookup: guardedLookup(policy),
      headers: { 'user-agent': OFFLOAD_USER_AGENT },
      throwHttpErrors: false,
      retry: { limit: 0 },
      timeout: { request: timeoutMs },
      signal,
    });
    return response.statusCode >= 200 && response.statusCode < 300;
  } catch {
    return false;
  }
}
