import { request as httpRequest, type OutgoingHttpHeaders } from 'node:http';
import { connect } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { faultEmail } from '../helpers/faults/load';
import { loginOperator } from '../helpers/faults/operator-session';
import { startFaultStack, type FaultStack, type QueueCounts } from '../helpers/faults/stack';
import { TEST_TOKEN } from '../helpers/world';

interface RawAnswer {
  status: number;
  /** The JSON error `code`, or null when the answer is not our JSON (Node's own 400/431). */
  code: string | null;
  message: string | null;
}

interface HostileRequest {
  method?: string;
  path?: string;
  headers?: OutgoingHttpHeaders;
  body?: Buffer | string;
  /** Send the body with Transfer-Encoding: chunked (no Content-Length). */
  chunked?: boolean;
  /**
   * Announce the whole body but send only its first 64 KB, then wait for the answer: for requests refused
   * before the body is read (writing the rest into a closed socket would race the answer).
   */
  holdBody?: boolean;
}

const AUTH = { authorization: `Bearer ${TEST_TOKEN}` };
const JSON_TYPE = { ...AUTH, 'content-type': 'application/json' };
const valid = () => faultEmail('bad-input', 0);
const json = (value: unknown) => JSON.stringify(value);
const withBytes = (before: string, bytes: number[], after: string) =>
  Buffer.concat([Buffer.from(before), Buffer.from(bytes), Buffer.from(after)]);
const ELEVEN_MB = 11 * 1024 * 1024;

function parseAnswer(status: number, text: string): RawAnswer {
  try {
    const body = JSON.parse(text) as { code?: string; message?: string };
    return { status, code: body.code ?? null, message: body.message ?? null };
  } catch {
    return { status, code: null, message: null };
  }
}

/** One request on a fresh connection, exactly as given (node:http: no header or body rewriting). */
function send(baseUrl: string, req: HostileRequest): Promise<RawAnswer> {
  const url = new URL(req.path ?? '/api/ingress/gmail', baseUrl);
  const body = req.body === undefined ? undefined : Buffer.isBuffer(req.body) ? req.body : Buffer.from(req.body);
  const headers: OutgoingHttpHeaders = { ...req.headers };
  if (body && !req.chunked) headers['content-length'] = String(body.length);
  return new Promise((resolve, reject) => {
    let answered = false;
    const client = httpRequest(url, { method: req.method ?? 'POST', headers, agent: false }, (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        resolve(parseAnswer(res.statusCode ?? 0, Buffer.concat(chunks).toString('utf8')));
        if (req.holdBody || req.chunked) client.destroy();
      });
      res.on('error', reject);
    });
    // The server may answer (413, 401…) and close before a large body is fully written: that is the point.
    client.on('error', (error) => {
      if (!answered) reject(error);
    });
    if (body && req.holdBody) client.write(body.subarray(0, 64 * 1024));
    else if (body && req.chunked) {
      // 256 KB chunks with backpressure, stopping if the server has already answered.
      void (async () => {
        for (let offset = 0; offset < body.length && !answered && !client.destroyed; offset += 256 * 1024) {
          if (!client.write(body.subarray(offset, offset + 256 * 1024))) await new Promise((r) => client.once('drain', r));
        }
        if (!answered && !client.destroyed) client.end();
      })();
    } else client.end(body);
  });
}

/** Bytes on a raw socket, for requests node:http refuses to send (smuggling shapes, broken framing). */
function sendRaw(baseUrl: string, payload: string): Promise<RawAnswer> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) }, () => socket.end(payload));
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
      resolve(parseAnswer(status, text.slice(text.indexOf('\r\n\r\n') + 4)));
    });
    socket.setTimeout(10_000, () => socket.destroy(new Error('raw request timed out')));
  });
}

function nested(depth: number, leaf: string, open: string, close: string): string {
  return open.repeat(depth) + leaf + close.repeat(depth);
}

type Case = [name: string, request: HostileRequest, status: number, code: string | null, message?: string];

/** Each hostile shape, with the exact answer it must get. Check order in the ingress: token → type → size → UTF-8/JSON → fields. */
const CASES: Case[] = [
  // Token
  [
    'no Authorization header',
    { headers: { 'content-type': 'application/json' }, body: json(valid()) },
    401,
    'unauthorized',
    'Unauthorized',
  ],
  [
    'forged bearer token',
    { headers: { authorization: 'Bearer not-the-token-123', 'content-type': 'application/json' }, body: json(valid()) },
    401,
    'unauthorized',
  ],
  [
    '"Bearer" with no token',
    { headers: { authorization: 'Bearer ', 'content-type': 'application/json' }, body: json(valid()) },
    401,
    'unauthorized',
  ],
  [
    'right token under another scheme (Token …)',
    { headers: { authorization: `Token ${TEST_TOKEN}`, 'content-type': 'application/json' }, body: json(valid()) },
    401,
    'unauthorized',
  ],
  [
    'right token as HTTP Basic credentials',
    {
      headers: { authorization: `Basic ${Buffer.from(`admin:${TEST_TOKEN}`).toString('base64')}`, 'content-type': 'application/json' },
      body: json(valid()),
    },
    401,
    'unauthorized',
  ],
  [
    'token with one extra character',
    { headers: { authorization: `Bearer ${TEST_TOKEN}x`, 'content-type': 'application/json' }, body: json(valid()) },
    401,
    'unauthorized',
  ],
  [
    'token prefix only',
    { headers: { authorization: `Bearer ${TEST_TOKEN.slice(0, 8)}`, 'content-type': 'application/json' }, body: json(valid()) },
    401,
    'unauthorized',
  ],
  [
    'token in the query string instead of the header',
    { path: `/api/ingress/gmail?token=${TEST_TOKEN}`, headers: { 'content-type': 'application/json' }, body: json(valid()) },
    401,
    'unauthorized',
  ],
  [
    '11 MB body without a token (refused before it is read)',
    { headers: { 'content-type': 'application/json' }, body: Buffer.alloc(ELEVEN_MB, 0x20), holdBody: true },
    401,
    'unauthorized',
  ],
  // Content type
  ['no Content-Type', { headers: AUTH, body: json(valid()) }, 415, 'unsupported_media_type'],
  ['text/plain', { headers: { ...AUTH, 'content-type': 'text/plain' }, body: json(valid()) }, 415, 'unsupported_media_type'],
  [
    'form-urlencoded',
    { headers: { ...AUTH, 'content-type': 'application/x-www-form-urlencoded' }, body: 'sender=a%40b.c&body=x' },
    415,
    'unsupported_media_type',
  ],
  [
    'multipart/form-data',
    { headers: { ...AUTH, 'content-type': 'multipart/form-data; boundary=xyz' }, body: '--xyz\r\n\r\n{}\r\n--xyz--' },
    415,
    'unsupported_media_type',
  ],
  [
    'application/json with a Latin-1 charset',
    { headers: { ...AUTH, 'content-type': 'application/json; charset=latin1' }, body: json(valid()) },
    415,
    'unsupported_charset',
  ],
  [
    'unknown Content-Encoding',
    { headers: { ...JSON_TYPE, 'content-encoding': 'x-evil' }, body: json(valid()) },
    415,
    'unsupported_encoding',
  ],
  // Size
  [
    '11 MB body (Content-Length; the parser drains it, then refuses)',
    { headers: JSON_TYPE, body: Buffer.from(json({ ...valid(), body: 'x'.repeat(ELEVEN_MB) })) },
    413,
    'payload_too_large',
  ],
  [
    '11 MB body (chunked, no Content-Length)',
    { headers: JSON_TYPE, body: Buffer.from(json({ ...valid(), body: 'x'.repeat(ELEVEN_MB) })), chunked: true },
    413,
    'payload_too_large',
  ],
  [
    'gzip bomb: 11 KB that inflates to 11 MB',
    { headers: { ...JSON_TYPE, 'content-encoding': 'gzip' }, body: gzipSync(Buffer.alloc(ELEVEN_MB, 0x20)) },
    413,
    'payload_too_large',
  ],
  // Bytes and JSON
  [
    'invalid UTF-8 (0xC3 0x28)',
    { headers: JSON_TYPE, body: withBytes('{"sender":"a@b.c","body":"', [0xc3, 0x28], '"}') },
    400,
    'invalid_encoding',
  ],
  [
    'overlong UTF-8 encoding of "/" (0xC0 0xAF)',
    { headers: JSON_TYPE, body: withBytes('{"sender":"a@b.c","body":"', [0xc0, 0xaf], '"}') },
    400,
    'invalid_encoding',
  ],
  [
    'UTF-8-encoded lone surrogate (0xED 0xA0 0x80)',
    { headers: JSON_TYPE, body: withBytes('{"sender":"a@b.c","body":"', [0xed, 0xa0, 0x80], '"}') },
    400,
    'invalid_encoding',
  ],
  [
    'raw NUL byte inside a JSON string',
    { headers: JSON_TYPE, body: withBytes('{"sender":"a@b.c","body":"x', [0x00], 'y"}') },
    400,
    'invalid_json',
  ],
  ['truncated JSON', { headers: JSON_TYPE, body: '{"sender":"a@b.c","body":' }, 400, 'invalid_json'],
  ['JSON array', { headers: JSON_TYPE, body: json([valid()]) }, 400, 'invalid_json', 'Invalid JSON payload'],
  ['JSON number', { headers: JSON_TYPE, body: '42' }, 400, 'invalid_json'],
  ['JSON string', { headers: JSON_TYPE, body: '"sender"' }, 400, 'invalid_json'],
  ['JSON null', { headers: JSON_TYPE, body: 'null' }, 400, 'invalid_json'],
  ['100,000 nested arrays', { headers: JSON_TYPE, body: nested(100_000, '1', '[', ']') }, 400, 'invalid_json'],
  ['empty body', { headers: JSON_TYPE, body: '' }, 400, 'invalid_payload', 'Missing field: sender'],
  // Fields: wrong types
  ['missing sender', { headers: JSON_TYPE, body: json({ body: 'x' }) }, 400, 'invalid_payload', 'Missing field: sender'],
  ['missing body', { headers: JSON_TYPE, body: json({ sender: 'a@b.c' }) }, 400, 'invalid_payload', 'Missing field: body'],
  ['sender is a number', { headers: JSON_TYPE, body: json({ ...valid(), sender: 42 }) }, 400, 'invalid_payload', 'Invalid field: sender'],
  [
    'sender is only whitespace',
    { headers: JSON_TYPE, body: json({ ...valid(), sender: '   ' }) },
    400,
    'invalid_payload',
    'Missing field: sender',
  ],
  ['body is an array', { headers: JSON_TYPE, body: json({ ...valid(), body: ['x'] }) }, 400, 'invalid_payload', 'Invalid field: body'],
  [
    'body is an object nested 10,000 deep',
    { headers: JSON_TYPE, body: `{"sender":"a@b.c","body":${nested(10_000, '1', '{"a":', '}')}}` },
    400,
    'invalid_payload',
    'Invalid field: body',
  ],
  [
    'subject is a number',
    { headers: JSON_TYPE, body: json({ ...valid(), subject: 123 }) },
    400,
    'invalid_payload',
    'Invalid field: subject',
  ],
  ['date is an object', { headers: JSON_TYPE, body: json({ ...valid(), date: {} }) }, 400, 'invalid_payload', 'Invalid field: date'],
  [
    'labels is a string, not an array',
    { headers: JSON_TYPE, body: json({ ...valid(), labels: 'INBOX' }) },
    400,
    'invalid_payload',
    'Invalid field: labels',
  ],
  [
    'labels holds numbers',
    { headers: JSON_TYPE, body: json({ ...valid(), labels: [1, 2] }) },
    400,
    'invalid_payload',
    'Invalid field: labels.0',
  ],
  [
    'message_id is a number',
    { headers: JSON_TYPE, body: json({ ...valid(), message_id: 12345 }) },
    400,
    'invalid_payload',
    'Invalid field: message_id',
  ],
  // Fields: sizes and characters
  [
    'subject of 4,097 characters',
    { headers: JSON_TYPE, body: json({ ...valid(), subject: 's'.repeat(4097) }) },
    400,
    'invalid_payload',
    'Invalid field: subject',
  ],
  [
    'sender of 5,000 characters',
    { headers: JSON_TYPE, body: json({ ...valid(), sender: `${'a'.repeat(4990)}@b.c` }) },
    400,
    'invalid_payload',
    'Invalid field: sender',
  ],
  [
    'snippet of 10,001 characters',
    { headers: JSON_TYPE, body: json({ ...valid(), snippet: 'n'.repeat(10_001) }) },
    400,
    'invalid_payload',
    'Invalid field: snippet',
  ],
  [
    '"to" of 32,769 characters',
    { headers: JSON_TYPE, body: json({ ...valid(), to: 't'.repeat(32_769) }) },
    400,
    'invalid_payload',
    'Invalid field: to',
  ],
  [
    '201 labels',
    { headers: JSON_TYPE, body: json({ ...valid(), labels: Array.from({ length: 201 }, (_, i) => `l${i}`) }) },
    400,
    'invalid_payload',
    'Invalid field: labels',
  ],
  [
    'message_id with a path traversal',
    { headers: JSON_TYPE, body: json({ ...valid(), message_id: '../../etc/passwd' }) },
    400,
    'invalid_payload',
    'Invalid field: message_id',
  ],
  [
    'message_id with an escaped NUL',
    { headers: JSON_TYPE, body: json({ ...valid(), message_id: 'abc\u0000def' }) },
    400,
    'invalid_payload',
    'Invalid field: message_id',
  ],
  [
    'message_id of 513 characters',
    { headers: JSON_TYPE, body: json({ ...valid(), message_id: 'm'.repeat(513) }) },
    400,
    'invalid_payload',
    'Invalid field: message_id',
  ],
  // Duplicate keys and prototype pollution: the last key wins; prototypes never supply a field.
  [
    'duplicate key: a valid body, then a numeric one',
    { headers: JSON_TYPE, body: '{"sender":"a@b.c","body":"ok","body":42}' },
    400,
    'invalid_payload',
    'Invalid field: body',
  ],
  [
    '__proto__ carrying sender and body',
    { headers: JSON_TYPE, body: '{"__proto__":{"sender":"evil@x.y","body":"polluted"}}' },
    400,
    'invalid_payload',
    'Missing field: sender',
  ],
  [
    'constructor.prototype carrying sender and body',
    { headers: JSON_TYPE, body: '{"constructor":{"prototype":{"sender":"evil@x.y","body":"polluted"}}}' },
    400,
    'invalid_payload',
    'Missing field: sender',
  ],
  [
    'valid sender, body only under __proto__',
    { headers: JSON_TYPE, body: '{"sender":"a@b.c","__proto__":{"body":"polluted"}}' },
    400,
    'invalid_payload',
    'Missing field: body',
  ],
  [
    'NUL inside a key name ("sen\\u0000der")',
    { headers: JSON_TYPE, body: '{"sen\\u0000der":"a@b.c","body":"x"}' },
    400,
    'invalid_payload',
    'Missing field: sender',
  ],
  // HTTP framing, answered by Node's parser before any route runs
  [
    "a 20 KB header (over Node's 16 KB limit)",
    { headers: { ...JSON_TYPE, 'x-padding': 'p'.repeat(20 * 1024) }, body: json(valid()) },
    431,
    null,
  ],
];

/**
 * Fault 6: hostile and malformed ingress requests against the running API process. Each gets its exact 4xx
 * and error code, the process stays up, and nothing reaches the email queue.
 */
describe('fault 6: bad input against the running API', () => {
  let stack: FaultStack;
  let before: QueueCounts;
  beforeAll(async () => {
    // No worker: anything that slipped through would wait in the queue, visible in the counts.
    stack = await startFaultStack({ workers: [] });
    before = await stack.counts('email');
  }, 90_000);
  afterAll(async () => {
    await stack?.close();
  });

  it(`has at least 30 hostile shapes (${CASES.length + 4})`, () => {
    expect(CASES.length + 4).toBeGreaterThanOrEqual(30);
  });

  // Objects, not tuples: jest would take a missing optional `message` for a done callback.
  const table = CASES.map(([name, request, status, code, message]) => ({ name, request, status, code, message }));
  it.each(table)('$name → $status $code', async ({ request, status, code, message }) => {
    const answer = await send(stack.apiUrl, request);
    expect({ status: answer.status, code: answer.code }).toEqual({ status, code });
    if (message !== undefined) expect(answer.message).toBe(message);
  });

  it.each<[string, string]>([
    [
      'Content-Length and Transfer-Encoding together (request smuggling)',
      `POST /api/ingress/gmail HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TEST_TOKEN}\r\nContent-Type: application/json\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
    ],
    [
      'a chunk size that is not hex',
      `POST /api/ingress/gmail HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TEST_TOKEN}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n`,
    ],
  ])('%s → 400 from the HTTP parser', async (_name, raw) => {
    expect(await sendRaw(stack.apiUrl, raw)).toEqual({ status: 400, code: null, message: null });
  });

  it('GET on the ingress path is not an ingress call: 401 from the operator guard', async () => {
    expect(await send(stack.apiUrl, { method: 'GET', headers: AUTH })).toMatchObject({ status: 401, code: 'unauthorized' });
  });

  it('an operator session cookie is not an ingress token', async () => {
    const operator = await loginOperator(stack.apiUrl);
    const answer = await operator.request('POST', '/api/ingress/gmail', valid());
    expect(answer.status).toBe(401);
    expect(answer.json.code).toBe('unauthorized');
  });

  it('afterwards: the process is up, its prototypes are clean, and nothing was enqueued', async () => {
    expect(stack.api.child.exitCode).toBeNull();
    expect((await fetch(`${stack.apiUrl}/healthz`)).status).toBe(200);
    // Had a __proto__ payload polluted Object.prototype, this would now pass validation.
    const clean = await send(stack.apiUrl, { headers: JSON_TYPE, body: json({ body: 'x' }) });
    expect(clean).toEqual({ status: 400, code: 'invalid_payload', message: 'Missing field: sender' });
    expect(await stack.counts('email')).toEqual(before);
    expect(before.waiting + before.completed + before.failed).toBe(0);
    expect(stack.api.logs.filter((l) => l.event === 'http.unhandled_error')).toEqual([]);
    // The control: a well-formed email is still accepted (the API was not wedged by the abuse).
    const good = await send(stack.apiUrl, { headers: JSON_TYPE, body: json(valid()) });
    expect(good.status).toBe(200);
  });
});
