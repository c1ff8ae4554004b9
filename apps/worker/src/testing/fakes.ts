import type { Job } from 'bullmq';
import type { DeliveryTarget } from '@render-signal/contracts';
import type { DeliverySuccess, WebhookDeliverer, WebhookLog, WebhookLogEntry } from '@render-signal/delivery';
import { createWorkerMetrics, type Logger, type WorkerMetrics } from '@render-signal/observability';
import type { DeliveryAttemptDeps } from '../pipeline/delivery-attempt';

/** Fakes for the worker's unit tests: no Redis, no HTTP; each records what it was asked. */

export interface LogLine {
  level: 'info' | 'warn' | 'error' | 'debug';
  event: string;
  fields: Record<string, unknown>;
}

/** A Logger that keeps every line with its child fields. */
export function recordingLogger(lines: LogLine[] = [], bound: Record<string, unknown> = {}): Logger & { lines: LogLine[] } {
  const at =
    (level: LogLine['level']) =>
    (event: string, fields: Record<string, unknown> = {}) =>
      lines.push({ level, event, fields: { ...bound, ...fields } });
  return {
    lines,
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    debug: at('debug'),
    child: (fields) => recordingLogger(lines, { ...bound, ...fields }),
  };
}

/** A deliverer answering from a script: a success, or the error to throw (RetryableDeliveryError, PermanentDeliveryError…). */
export function scriptedDeliverer(
  script: Array<DeliverySuccess | Error>,
): WebhookDeliverer & { requests: Array<{ webhookId: string; body: string }> } {
  const requests: Array<{ webhookId: string; body: string }> = [];
  return {
    requests,
    async deliverWebhook(request) {
      requests.push({ webhookId: request.webhookId, body: request.body.toString('utf8') });
      const next = script.shift();
      if (!next) throw new Error('scriptedDeliverer: no answer scripted');
      if (next instanceof Error) throw next;
      return next;
    },
    close() {},
  };
}

export const ANSWERED: DeliverySuccess = {
  status: 200,
  duration_ms: 12,
  response_excerpt: 'ok',
  attempted_modes: ['json'],
  fallback_used: false,
};

/** A webhook log keeping its entries in memory. */
export function memoryWebhookLog(): WebhookLog & { entries: Array<Omit<WebhookLogEntry, 'id' | 'timestamp'>> } {
  const entries: Array<Omit<WebhookLogEntry, 'id' | 'timestamp'>> = [];
  return {
    entries,
    async append(entry) {
      entries.push(entry);
    },
    async list() {
      return [];
    },
  };
}

export function attemptDeps(deliverer: WebhookDeliverer, overrides: Partial<Omit<DeliveryAttemptDeps, 'webhookLog'>> = {}) {
  const metrics: WorkerMetrics = createWorkerMetrics();
  const webhookLog = memoryWebhookLog();
  return { metrics, deliverer, webhookLog, secret: async () => undefined, now: () => 1_000_000, ...overrides };
}

/** A counter's value for the given labels (0 when never incremented). */
export async function counterValue(
  counter: { get(): Promise<{ values: Array<{ value: number; labels: Record<string, unknown> }> }> },
  labels: Record<string, string>,
): Promise<number> {
  const { values } = await counter.get();
  return values.filter((v) => Object.entries(labels).every(([k, value]) => v.labels[k] === value)).reduce((sum, v) => sum + v.value, 0);
}

export interface FakeJobCalls {
  updateData: unknown[];
  log: string[];
  moveToDelayed: number[];
  removeDeduplicationKey: number;
}

/** A BullMQ job with what the processors call on it; `calls` records those calls. */
export function fakeJob<T>(
  data: T,
  options: { id?: string; attemptsStarted?: number; attemptsMade?: number; attempts?: number; waitForChildren?: boolean } = {},
): Job<T> & { calls: FakeJobCalls } {
  const calls: FakeJobCalls = { updateData: [], log: [], moveToDelayed: [], removeDeduplicationKey: 0 };
  const job = {
    calls,
    id: options.id ?? 'job-1',
    data,
    attemptsStarted: options.attemptsStarted ?? 1,
    attemptsMade: options.attemptsMade ?? 0,
    opts: { attempts: options.attempts ?? 5 },
    queueQualifiedName: 'rs:test:email',
    async updateData(next: T) {
      calls.updateData.push(next);
      job.data = next;
    },
    async log(line: string) {
      calls.log.push(line);
      return calls.log.length;
    },
    async moveToDelayed(timestamp: number) {
      calls.moveToDelayed.push(timestamp);
    },
    async moveToWaitingChildren() {
      return options.waitForChildren ?? true;
    },
    async getChildrenValues() {
      return {};
    },
    async removeDeduplicationKey() {
      calls.removeDeduplicationKey += 1;
      return 1;
    },
  };
  return job as unknown as Job<T> & { calls: FakeJobCalls };
}

export interface Enqueued {
  name: string;
  data: unknown;
  opts: unknown;
}

/** A producer keeping what is added; `failNext` makes the next add/addBulk reject (Redis down). */
export function memoryProducer(): {
  added: Enqueued[];
  failNext: Error | undefined;
  add(name: string, data: unknown, opts?: unknown): Promise<unknown>;
  addBulk(jobs: Array<{ name: string; data: unknown; opts?: unknown }>): Promise<unknown[]>;
} {
  const producer = {
    added: [] as Enqueued[],
    failNext: undefined as Error | undefined,
    async add(name: string, data: unknown, opts?: unknown) {
      await producer.addBulk([{ name, data, opts }]);
      return {};
    },
    async addBulk(jobs: Array<{ name: string; data: unknown; opts?: unknown }>) {
      const error = producer.failNext;
      producer.failNext = undefined;
      if (error) throw error;
      for (const job of jobs) producer.added.push({ name: job.name, data: job.data, opts: job.opts });
      return jobs.map(() => ({}));
    },
  };
  return producer;
}

/** A JSON target with the schema's defaults. */
export const TEST_TARGET: DeliveryTarget = {
  url: 'https://hooks.example/a',
  origin: 'default',
  mode: 'json',
  fallback_on_415: true,
  tls_verify: true,
  require_success_flag: false,
};
