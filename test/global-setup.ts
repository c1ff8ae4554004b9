import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { redisAnswers, startRedisServer } from './helpers/redis-server';

/**
 * Finds the Redis the suites share: TEST_REDIS_URL if set, else the machine's 127.0.0.1:6379,
 * else a redis-server started here on a free port (CI machines may have none running).
 * Suites isolate themselves with a unique key prefix and clean up after themselves.
 */
export default async function globalSetup(): Promise<void> {
  const given = process.env.TEST_REDIS_URL;
  if (given) return;
  if (await redisAnswers('127.0.0.1', 6379)) {
    process.env.TEST_REDIS_URL = 'redis://127.0.0.1:6379';
    return;
  }
  const own = await startRedisServer();
  process.env.TEST_REDIS_URL = own.url;
  const pidFile = join(tmpdir(), `rs-jest-redis-${process.pid}.pid`);
  writeFileSync(pidFile, String(own.process.pid));
  process.env.RS_TEST_REDIS_PIDFILE = pidFile;
  own.process.unref();
}
