import type { Redis } from 'ioredis'
import { gcra } from '../../processors/gcra.js'
import { sleep } from '../../retry.js'
import { redisScript } from './redis-script.js'

/**
 * Meta counts throughput per business phone number across every sender (80 messages/s by default),
 * and going over earns 130429 for everyone on that number. The budget is shared by all bridge
 * processes through one Redis key per number, taken atomically by a script (the GCRA of
 * processors/gcra.ts). With Redis away each process falls back to its own bucket: messages keep
 * flowing, and the limit then holds per process only.
 *
 * A 130429 means Meta's real budget is below ours (a lower tier, other senders on the number):
 * `slowDown` halves the number's shared rate (down to 1/16) for a while; each further 130429 in that
 * window halves it again and restarts the window.
 */
const takeScript = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local f = tonumber(redis.call('GET', KEYS[2]) or '1')
local rate = tonumber(ARGV[1]) * f
local interval = 1000 / rate
local tolerance = interval * math.max(0, math.max(1, math.floor(tonumber(ARGV[2]) * f)) - 1)
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local allow_at = tat - tolerance
if allow_at > now then return math.ceil(allow_at - now) end
redis.call('SET', KEYS[1], tostring(tat + interval), 'PX', math.ceil(tolerance + interval) + 1000)
return 0
`
const slowScript = `
local f = tonumber(redis.call('GET', KEYS[1]) or '1')
f = math.max(tonumber(ARGV[2]), f / 2)
redis.call('SET', KEYS[1], tostring(f), 'PX', ARGV[1])
return tostring(f)
`
/** The lowest share of the configured rate a run of 130429s brings a number down to. */
const minFactor = 1 / 16

export interface SendRateLimiter {
  /** Resolves when this process may send one message from the number; early (false) at shutdown. */
  acquire: (phoneNumberId: string, signal?: AbortSignal) => Promise<boolean>
  /** Meta answered 130429: lower the number's shared rate for `forMs`. Returns the new share. */
  slowDown: (phoneNumberId: string, forMs: number) => Promise<number>
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
  const localSlow = new Map<string, { factor: number; until: number }>()
  // EVALSHA: the scripts' 40-byte hash on each call instead of their text (BENCHMARKS.md, A/B).
  const takeShared = redisScript(opts.redis, takeScript)
  const slowShared = redisScript(opts.redis, slowScript)
  const now = opts.now ?? Date.now
  const keyOf = (id: string): string => `${opts.prefix ?? ''}ratelimit:meta:${id}`
  const localFactor = (id: string): number => {
    const s = localSlow.get(id)
    return s !== undefined && s.until > now() ? s.factor : 1
  }
  const takeLocal = (id: string): number => {
    const rate = opts.ratePerSecond * localFactor(id)
    const burst = Math.max(1, Math.floor(opts.burst * localFactor(id)))
    // The local bucket starts spent: the shared one may have just given this number its burst.
    const start = now() + ((burst - 1) * 1000) / rate
    const r = gcra(local.get(id) ?? start, now(), rate, burst)
    if (r.waitMs === 0) local.set(id, r.newTatMs)
    return r.waitMs
  }
  const take = async (id: string): Promise<number> => {
    try {
      const key = keyOf(id)
      return Number(await takeShared(2, key, `${key}:slow`, opts.ratePerSecond, opts.burst))
    } catch (err) {
      opts.onFallback?.(err)
      return takeLocal(id)
    }
  }
  return {
    async acquire(phoneNumberId, signal) {
      for (;;) {
        const waitMs = await take(phoneNumberId)
        if (waitMs <= 0) return true
        if (!(await sleep(waitMs, signal))) return false
      }
    },
    async slowDown(phoneNumberId, forMs) {
      const factor = Math.max(minFactor, localFactor(phoneNumberId) / 2)
      localSlow.set(phoneNumberId, { factor, until: now() + forMs })
      try {
        return Number(await slowShared(1, `${keyOf(phoneNumberId)}:slow`, forMs, minFactor))
      } catch (err) {
        opts.onFallback?.(err)
        return factor
      }
    },
  }
}
