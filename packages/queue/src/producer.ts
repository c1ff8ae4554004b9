import { Queue, type Job, type JobsOptions } from 'bullmq';
import type { Cluster, Redis } from 'ioredis';
import { EVENTS_STREAM_MAX_LEN, type JobData, type JobInput, type JobName, type QueueDefinition } from './catalog';

/** A typed handle on one queue: data is validated by the catalog's schema before it reaches Redis. */
export interface Producer<D extends QueueDefinition> {
  readonly definition: D;
  readonly queue: Queue;
  /** The connection and key prefix it writes with (for keys read next to the queue's, e.g. dedup keys). */
  readonly connection: Redis | Cluster;
  readonly prefix: string;
  add<N extends JobName<D>>(name: N, data: JobInput<D, N>, opts?: JobsOptions): Promise<Job<JobData<D, N>>>;
  addBulk<N extends JobName<D>>(jobs: Array<{ name: N; data: JobInput<D, N>; opts?: JobsOptions }>): Promise<Array<Job<JobData<D, N>>>>;
  close(): Promise<void>;
}

export interface ProducerOptions {
  connection: Redis | Cluster;
  prefix: string;
}

/**
 * A BullMQ handle on a catalog queue (producers, the API's read-only handles, Bull Board, supervision): every one
 * declares the same events-stream length (each writes it into the queue's meta hash when it starts).
 */
export function catalogQueue(definition: Pick<QueueDefinition, 'name'> & Partial<QueueDefinition>, options: ProducerOptions): Queue {
  const queue = new Queue(definition.name, {
    connection: options.connection,
    prefix: options.prefix,
    streams: { events: { maxLen: EVENTS_STREAM_MAX_LEN } },
    ...(definition.defaultJobOptions ? { defaultJobOptions: definition.defaultJobOptions } : {}),
  });
  // Errors surface on the awaited calls; this only keeps an unhandled 'error' event from crashing the process.
  queue.on('error', () => {});
  return queue;
}

export function createProducer<D extends QueueDefinition>(definition: D, options: ProducerOptions): Producer<D> {
  const queue = catalogQueue(definition, options);
  const validate = <N extends JobName<D>>(name: N, data: JobInput<D, N>): JobData<D, N> => {
    const schema = definition.jobs[name];
    if (!schema) throw new Error(`queue ${definition.name} has no job named ${name}`);
    return schema.parse(data) as JobData<D, N>;
  };
  return {
    definition,
    queue,
    connection: options.connection,
    prefix: options.prefix,
    add: async (name, data, opts) => (await queue.add(name, validate(name, data), opts)) as Job<JobData<D, typeof name>>,
    addBulk: async (jobs) =>
      (await queue.addBulk(jobs.map((j) => ({ name: j.name, data: validate(j.name, j.data), opts: j.opts })))) as never,
    close: () => queue.close(),
  };
}
