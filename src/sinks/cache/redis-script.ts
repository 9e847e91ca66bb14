import { createHash } from 'node:crypto'
import type { Redis } from 'ioredis'

/** Runs a script: the number of keys, the keys, then the arguments (EVAL's order, without the script). */
export type RedisScript = (numberOfKeys: number, ...keysAndArgs: (string | number)[]) => Promise<unknown>

/**
 * A Lua script sent by its SHA1 (EVALSHA) instead of in full on every call (EVAL), and once in full
 * when the server answers NOSCRIPT (first use, a restart, SCRIPT FLUSH), which also caches it there.
 * Called directly rather than through ioredis's `defineCommand`: that builds a command subclass
 * per call and cost the client more CPU than plain EVAL (bench/redis-script-ab.ts, BENCHMARKS.md).
 */
export function redisScript(redis: Redis, lua: string): RedisScript {
  const sha = createHash('sha1').update(lua).digest('hex')
  return async (numberOfKeys, ...keysAndArgs) => {
    try {
      return await redis.evalsha(sha, numberOfKeys, ...keysAndArgs)
    } catch (err) {
      if (!(err instanceof Error && err.message.startsWith('NOSCRIPT'))) throw err
      return redis.eval(lua, numberOfKeys, ...keysAndArgs)
    }
  }
}
