import { UnrecoverableError, Worker, type Job, type WorkerOptions } from 'bullmq';
import type { Cluster, Redis } from 'ioredis';
import type { JobData, JobName, QueueDefinition } from './catalog';

export type JobHandlers<D extends QueueDefinition> = {
  [N in JobName<D>]: (job: Job<JobData<D, N>>, token?: string) => Promise<unknown>;
};

export interface ConsumerOptions extends Omit<WorkerOptions, 'connection' | 'prefix' | 'autorun'> {
  connection: Redis | Cluster;
  prefix: string;
}

/**
 * A BullMQ worker for one catalog queue: dispatches on the job name to one handler per job type and
 * validates the data first (invalid data is a bug, never retried). Created paused: call `run()`.
 */
export function createConsumer<D extends QueueDefinition>(definition: D, handlers: JobHandlers<D>, options: ConsumerOptions): Worker {
  const { connection, prefix, ...workerOptions } = options;
  return new Worker(
    definition.name,
    async (job: Job, token?: string) => {
      const name = job.name as JobName<D>;
      const handler = handlers[name];
      const schema = definition.jobs[name];
      if (!handler || !schema) throw new UnrecoverableError(`no handler for job ${definition.name}.${job.name}`);
      const parsed = schema.safeParse(job.data);
      if (!parsed.success)
        throw new UnrecoverableError(`invalid job data: ${parsed.error.issues.map((i) => i.path.join('.') + ' ' + i.message).join('; ')}`);
      job.data = parsed.data;
      return handler(job as Job<JobData<D, typeof name>>, token);
    },
    { ...workerOptions, connection, prefix, autorun: false },
  );
}
