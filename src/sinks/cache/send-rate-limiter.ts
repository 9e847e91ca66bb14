import type { Redis } from 'ioredis'
import { gcra } from '../../processors/gcra.js'
import { redisScript } from './redis-script.js'

/**
 * Meta counts throughput per business phone number across every sender (80 messages/s by default),
 * and going over earns 130429 for everyone on that number. The budget is shared by all bridge
 * processes through one Redis key per number, taken atomically by a script (the GCRA of
 * processors/gcra.ts). With Redis away each process falls back to its own bucket: messages keep
 * flowing, and the limit then holds per process only.
 */
const script = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = 1000 / tonumber(ARGV[1])
local tolerance = interval * math.max(0, tonumber(ARGV[2]) - 1)
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local allow_at = tat - tolerance
if allow_at > now then return math.ceil(allow_at - now) end
redis.call('SET', KEYS[1], tostring(tat + interval), 'PX', math.ceil(tolerance + interval) + 1000)
return 0
`

export interface SendRateLimiter {
  /** Resolves when this process may send one message from the number. */
  acquire: (phoneNumberId: string, signal?: AbortSignal) => Promise<void>
}

export function createSendRateLimiter(opts: {
  redis: Redis
  ratePerSecond: number
  burst: number
  prefix?: string
  now?: () => number
  /** Called when Redis did not answer and the local bucket was used instead. */
  onFallback?: (err: unknown) => void
}): SendRateLimiter {
  const local = new Map<string, number>()
  // EVALSHA: the script's 40-byte hash on each send instead of its 500 bytes (BENCHMARKS.md, A/B).
  const takeShared = redisScript(opts.redis, script)
  const now = opts.now ?? Date.now
  const takeLocal = (id: string): number => {
    // The local bucket starts spent: the shared one may have just given this number its burst.
    const start = now() + ((opts.burst - 1) * 1000) / opts.ratePerSecond
    const r = gcra(local.get(id) ?? start, now(), opts.ratePerSecond, opts.burst)
    if (r.waitMs === 0) local.set(id, r.newTatMs)
    return r.waitMs
  }
  const take = async (id: string): Promise<number> => {
    try {
      const key = `${opts.prefix ?? ''}ratelimit:meta:${id}`
      return Number(await takeShared(1, key, opts.ratePerSecond, opts.burst))
    } catch (err) {
      opts.onFallback?.(err)
      return takeLocal(id)
    }
  }
  return {
    async acquire(phoneNumberId) {
      for (;;) {
        const waitMs = await take(phoneNumberId)
        if (waitMs <= 0) return
        await new Promise((r) => setTimeout(r, waitMs))
      }
    },
  }
}
