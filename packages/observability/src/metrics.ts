import {
  AggregatorRegistry,
  collectDefaultMetrics,
  Counter,
  Gauge,
  Histogram,
  Registry,
  type MetricObjectWithValues,
  type MetricValue,
} from 'prom-client';
import type { Cluster, Redis } from 'ioredis';

/**
 * Prometheus metrics. The API serves /metrics; background workers cannot be scraped (Render), so each
 * worker publishes its registry (as prom-client JSON) to Redis every few seconds with a TTL, and the API
 * merges every live worker's snapshot with prom-client's AggregatorRegistry (sums counters, merges
 * histogram buckets).
 */

/** Latency buckets (s): webhook targets answer in ms to tens of seconds. */
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
/** CPU buckets (s): matching one email takes well under a millisecond to (with a huge body) tens of milliseconds. */
const CPU_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export function createWorkerMetrics(registry = new Registry()) {
  collectDefaultMetrics({ register: registry, prefix: 'rs_worker_' });
  return {
    registry,
    jobsCompleted: new Counter({
      name: 'rs_jobs_completed_total',
      help: 'Jobs completed, per queue',
      labelNames: ['queue'],
      registers: [registry],
    }),
    jobsFailed: new Counter({
      name: 'rs_jobs_failed_total',
      help: 'Jobs failed for good (dead letter), per queue',
      labelNames: ['queue'],
      registers: [registry],
    }),
    jobsRetried: new Counter({
      name: 'rs_jobs_retried_total',
      help: 'Failed attempts that will be retried, per queue',
      labelNames: ['queue'],
      registers: [registry],
    }),
    deliveryAttempts: new Counter({
      name: 'rs_delivery_attempts_total',
      help: 'Webhook delivery attempts by outcome (delivered, retrying, failed), target host and path (fast: in the email job; job)',
      labelNames: ['outcome', 'target_host', 'failure_reason', 'path'],
      registers: [registry],
    }),
    fastPathFallback: new Counter({
      name: 'rs_fast_path_fallback_total',
      help: 'Emails that took delivery jobs although the fast path is on, by reason',
      labelNames: ['reason'],
      registers: [registry],
    }),
    deliveryDuration: new Histogram({
      name: 'rs_delivery_duration_seconds',
      help: 'Duration of one delivery attempt (request to answer)',
      labelNames: ['outcome'],
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    endToEnd: new Histogram({
      name: 'rs_end_to_end_latency_seconds',
      help: 'From ingress acceptance to a 2xx from the target',
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    ruleEvaluation: new Histogram({
      name: 'rs_rule_evaluation_duration_seconds',
      help: 'Time to evaluate every routing rule against one email (each field read up to FIELD_SCAN_LIMIT_KB)',
      buckets: CPU_BUCKETS,
      registers: [registry],
    }),
    detection: new Histogram({
      name: 'rs_detection_duration_seconds',
      help: 'Time to run the detectors and exclusion keywords on one email (each field read up to FIELD_SCAN_LIMIT_KB)',
      buckets: CPU_BUCKETS,
      registers: [registry],
    }),
    alertsSent: new Counter({
      name: 'rs_alerts_sent_total',
      help: 'Operator alerts sent, per channel (webhook, email) and event',
      labelNames: ['channel', 'event'],
      registers: [registry],
    }),
    offloadBytes: new Counter({ name: 'rs_offload_bytes_total', help: 'Bytes transferred to R2/S3', registers: [registry] }),
    offloads: new Counter({
      name: 'rs_offload_total',
      help: 'Offload results by outcome and reason',
      labelNames: ['outcome', 'reason'],
      registers: [registry],
    }),
  };
}
export type WorkerMetrics = ReturnType<typeof createWorkerMetrics>;

export function createApiMetrics(registry = new Registry()) {
  collectDefaultMetrics({ register: registry, prefix: 'rs_api_' });
  return {
    registry,
    ingressRequests: new Counter({
      name: 'rs_ingress_requests_total',
      help: 'Ingress requests by HTTP status and outcome',
      labelNames: ['status', 'outcome'],
      registers: [registry],
    }),
    dedupHits: new Counter({
      name: 'rs_ingress_dedup_hits_total',
      help: 'Ingress requests answered already_processing/already_processed',
      registers: [registry],
    }),
    targetState: new Gauge({
      name: 'rs_target_state',
      help: 'Destination health per target (masked): 0 healthy, 1 failing, 2 paused, 3 recovering (read at scrape time)',
      labelNames: ['target'],
      registers: [registry],
    }),
    targetHeld: new Gauge({
      name: 'rs_target_held',
      help: 'Deliveries held per target (masked) while it is paused or recovering (read at scrape time)',
      labelNames: ['target'],
      registers: [registry],
    }),
    queueJobs: new Gauge({
      name: 'rs_queue_jobs',
      help: 'Jobs per queue and state (read at scrape time)',
      labelNames: ['queue', 'state'],
      registers: [registry],
    }),
  };
}
export type ApiMetrics = ReturnType<typeof createApiMetrics>;

const snapshotKey = (prefix: string) => `${prefix}:metrics:workers`;
/** A worker's snapshot is dropped when it stops publishing (crash, scale-down). */
const SNAPSHOT_TTL_MS = 30_000;

/** Publishes this process' registry every `intervalMs`; returns a stop function. */
export function publishWorkerMetrics(options: {
  redis: Redis | Cluster;
  prefix: string;
  workerId: string;
  registry: Registry;
  intervalMs?: number;
}): () => void {
  const publish = async () => {
    const json = JSON.stringify(await options.registry.getMetricsAsJSON());
    await options.redis
      .multi()
      .hset(snapshotKey(options.prefix), options.workerId, JSON.stringify({ at: Date.now(), metrics: json }))
      .pexpire(snapshotKey(options.prefix), SNAPSHOT_TTL_MS * 10)
      .exec();
  };
  const timer = setInterval(() => void publish().catch(() => {}), options.intervalMs ?? 5_000);
  timer.unref();
  void publish().catch(() => {});
  return () => {
    clearInterval(timer);
    void options.redis.hdel(snapshotKey(options.prefix), options.workerId).catch(() => {});
  };
}

/** The Prometheus text of the API's registry plus every live worker's, merged. */
export async function renderMetrics(options: {
  redis: Redis | Cluster;
  prefix: string;
  apiRegistry: Registry;
  now?: number;
}): Promise<{ contentType: string; body: string }> {
  const now = options.now ?? Date.now();
  const snapshots = await options.redis.hgetall(snapshotKey(options.prefix));
  const workerJson: Array<Array<MetricObjectWithValues<MetricValue<string>>>> = [];
  const stale: string[] = [];
  for (const [workerId, raw] of Object.entries(snapshots)) {
    try {
      const { at, metrics } = JSON.parse(raw) as { at: number; metrics: string };
      if (now - at > SNAPSHOT_TTL_MS) stale.push(workerId);
      else workerJson.push(JSON.parse(metrics) as Array<MetricObjectWithValues<MetricValue<string>>>);
    } catch {
      stale.push(workerId);
    }
  }
  if (stale.length > 0) await options.redis.hdel(snapshotKey(options.prefix), ...stale);
  const api = await options.apiRegistry.metrics();
  const workers = workerJson.length > 0 ? await AggregatorRegistry.aggregate(workerJson).metrics() : '';
  return { contentType: options.apiRegistry.contentType, body: `${api}\n${workers}` };
}

/** Number of worker processes that published recently. */
export async function liveWorkerCount(redis: Redis | Cluster, prefix: string, now = Date.now()): Promise<number> {
  const snapshots = await redis.hgetall(snapshotKey(prefix));
  return Object.values(snapshots).filter((raw) => {
    try {
      return now - (JSON.parse(raw) as { at: number }).at <= SNAPSHOT_TTL_MS;
    } catch {
      return false;
    }
  }).length;
}
