import type { Cluster, Redis } from 'ioredis';
import { redisScript } from '@render-signal/queue';

// KEYS[1] the digest hash (field: "<masked target>\t<reason>", value: count). No ARGV.
// Returns the hash's fields and values (flat) and deletes it: the counts since the previous digest, taken once.
const TAKE = `
local all = redis.call('HGETALL', KEYS[1])
redis.call('DEL', KEYS[1])
return all
`;
const TAKE_SCRIPT = redisScript(TAKE);

export interface DeadLetterCount {
  target: string;
  reason: string;
  count: number;
}

/** Dead letters counted per target and reason between two digests (the alert `dead_letters.digest`). */
export interface DeadLetterDigest {
  count(target: string, reason: string): Promise<void>;
  /** The counts since the last call, most first; they are reset. */
  take(): Promise<DeadLetterCount[]>;
}

export function createDeadLetterDigest(options: { redis: Redis | Cluster; prefix: string }): DeadLetterDigest {
  const key = `${options.prefix}:alerts:digest`;
  return {
    async count(target, reason) {
      await options.redis.hincrby(key, `${target}\t${reason}`, 1);
    },
    async take() {
      const flat = (await TAKE_SCRIPT.run(options.redis, [key], [])) as string[];
      const counts: DeadLetterCount[] = [];
      for (let i = 0; i + 1 < flat.length; i += 2) {
        const [target = '', reason = ''] = flat[i]!.split('\t');
        counts.push({ target, reason, count: Number(flat[i + 1]) });
      }
      return counts.sort((a, b) => b.count - a.count || a.target.localeCompare(b.target));
    },
  };
}
