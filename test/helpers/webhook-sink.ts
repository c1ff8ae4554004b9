import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedWebhook {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  json: Record<string, unknown> | undefined;
  receivedAt: number;
}

export interface SinkResponse {
  status: number;
  body?: string;
  headers?: Record<string, string>;
  delayMs?: number;
}

/** A real HTTP server on loopback that records every webhook and answers as the test scripts it. */
export interface WebhookSink {
  url: string;
  port: number;
  /** Requests answered 2xx (delivered). */
  received: ReceivedWebhook[];
  /** Every request, whatever the answer (attempt counting). */
  requests: ReceivedWebhook[];
  /** Answers to give, in order, for the next requests; afterwards `defaultResponse`. */
  script: SinkResponse[];
  defaultResponse: SinkResponse;
  waitFor(count: number, timeoutMs?: number): Promise<ReceivedWebhook[]>;
  close(): Promise<void>;
}

export async function startWebhookSink(options: { port?: number } = {}): Promise<WebhookSink> {
  const sink: WebhookSink = {
    url: '',
    port: 0,
    received: [],
    requests: [],
    script: [],
    defaultResponse: { status: 200, body: '{"success":true}', headers: { 'content-type': 'application/json' } },
    waitFor: async (count, timeoutMs = 15_000) => {
      const deadline = Date.now() + timeoutMs;
      while (sink.received.length < count) {
        if (Date.now() > deadline) throw new Error(`sink got ${sink.received.length} webhooks, expected ${count} within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 20));
      }
      return sink.received;
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let json: Record<string, unknown> | undefined;
      try {
        json = JSON.parse(body) as Record<string, unknown>;
      } catch {
        json = undefined;
      }
      const answer = sink.script.shift() ?? sink.defaultResponse;
      const record = { path: req.url ?? '/', headers: req.headers, body, json, receivedAt: Date.now() };
      sink.requests.push(record);
      const respond = () => {
        if (answer.status >= 200 && answer.status < 300) sink.received.push(record);
        res.writeHead(answer.status, answer.headers ?? { 'content-type': 'application/json' });
        res.end(answer.body ?? '');
      };
      if (answer.delayMs) setTimeout(respond, answer.delayMs);
      else respond();
    });
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', () => resolve()));
  sink.port = (server.address() as AddressInfo).port;
  sink.url = `http://127.0.0.1:${sink.port}/hook`;
  return sink;
}
