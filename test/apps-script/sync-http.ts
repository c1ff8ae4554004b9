import { spawnSync } from 'node:child_process';
import type { HttpRequest, HttpResponse } from './apps-script-fakes';

/**
 * The request runs in a short-lived child node (global fetch) while this thread blocks in spawnSync:
 * a real HTTP exchange with a synchronous API, like UrlFetchApp.fetch. The child prints one JSON line.
 */
const CHILD_SOURCE = `
let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (c) => (input += c));
process.stdin.on('end', async () => {
  const req = JSON.parse(input);
  try {
    const res = await fetch(req.url, {
      method: req.method,
      headers: req.headers,
      body: req.body,
      redirect: req.followRedirects ? 'follow' : 'manual',
      signal: AbortSignal.timeout(req.timeoutMs),
    });
    const headers = {};
    res.headers.forEach((value, key) => (headers[key] = value));
    process.stdout.write(JSON.stringify({ status: res.status, headers, body: await res.text() }));
  } catch (error) {
    process.stdout.write(JSON.stringify({ error: String(error && error.cause ? error.cause.code || error.cause.message : error) }));
  }
});
`;

export function syncHttpRequest(request: HttpRequest, timeoutMs = 30_000): HttpResponse {
  const child = spawnSync(process.execPath, ['-e', CHILD_SOURCE], {
    input: JSON.stringify({ ...request, timeoutMs }),
    encoding: 'utf8',
    timeout: timeoutMs + 5_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  if (child.error) throw child.error;
  if (child.status !== 0) throw new Error(`http child exited with ${child.status}: ${child.stderr}`);
  const answer = JSON.parse(child.stdout) as HttpResponse & { error?: string };
  if (answer.error !== undefined) throw new Error(answer.error);
  return { status: answer.status, headers: answer.headers, body: answer.body };
}
