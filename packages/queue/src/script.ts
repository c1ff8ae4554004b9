import { createHash } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';

export type ScriptArg = string | number | Buffer;

/** A Lua script run by its SHA1 (EVALSHA): its body crosses the wire only when a node does not know it yet. */
export interface RedisScript {
  readonly sha: string;
  run(redis: Redis | Cluster, keys: readonly string[], args: readonly ScriptArg[]): Promise<unknown>;
}

/**
 * The body of a hot script (the journey recorder's is 2 KB) is otherwise sent, and hashed by Redis, on every call.
 * A node that does not know the script (restarted, another cluster node, SCRIPT FLUSH) answers NOSCRIPT: then the
 * body is sent once with EVAL, which also caches it there. Same semantics as ioredis' defineCommand, without
 * adding untyped methods to the connection.
 */
export function redisScript(lua: string): RedisScript {
  const sha = createHash('sha1').update(lua).digest('hex');
  return {
    sha,
    run(redis, keys, args) {
      return redis.evalsha(sha, keys.length, ...keys, ...args).catch((error: unknown) => {
        if (error instanceof Error && error.message.startsWith('NOSCRIPT')) return redis.eval(lua, keys.length, ...keys, ...args);
        throw error;
      });
    },
  };
}
