import type { Redis } from 'ioredis'
import { gcraTake } from '../../processors/gcra.js'

/**
 * Meta counts throughput per business phone number across every sender (80 messages/s by default),
 * and going over earns 130429 for everyone on that number. The budget is shared by all bridge
 * processes through one Redis key per number, taken atomically by a script (the GCRA of
 * processors/gcra.ts). With Redis away each process falls back to its own bucket: messages keep
 * flowing, and the limit then holds per process only.
 *
 * The script is gcraTake for up to ARGV[3] sends at once, returning {granted, waitMs}, on Redis's
 * own clock so every process agrees on "now".
 */
const script = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = 1000 / tonumber(ARGV[1])
local tolerance = interval * math.max(0, tonumber(ARGV[2]) - 1)
local want = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local room = now + tolerance - tat
if room < 0 then return {0, math.ceil(-room)} end
local granted = math.min(want, math.floor(room / interval + 1e-9) + 1)
redis.call('SET', KEYS[1], tostring(tat + granted * interval), 'PX', math.ceil(tolerance + interval) + 1000)
return {granted, 0}
`

export interface SendRateLimiter {
  /** Resolves when this process may send one message from the number. */
  acquire: (phoneNumberId: string, signal?: AbortSignal) => Promise<void>
}

/**
 * Sends waiting on one number queue in a lane; one round trip to Redis serves as many of them as
 * the budget allows (up to maxBatch), instead of one EVAL per message. Waiters are served in
 * arrival order, and tokens are only taken for sends that are waiting, so none sit unused here.
 */
export function createSendRateLimiter(opts: {
  redis: Redis
  ratePerSecond: number
  burst: number
  prefix?: string
  now?: () => number
  /** Sends one Redis round trip may grant (never more than the burst). */
  maxBatch?: number
  /** Called when Redis did not answer and the local bucket was used instead. */
  onFallback?: (err: unknown) => void
}): SendRateLimiter {
  const local = new Map<string, number>()
  const now = opts.now ?? Date.now
  const maxBatch = Math.max(1, Math.min(opts.maxBatch ?? 64, opts.burst))
  const takeLocal = (id: string, want: number): { granted: number; waitMs: number } => {
    // The local bucket starts spent: the shared one may have just given this number its burst.
    const start = now() + ((opts.burst - 1) * 1000) / opts.ratePerSecond
    const r = gcraTake(local.get(id) ?? start, now(), opts.ratePerSecond, opts.burst, want)
    if (r.granted > 0) local.set(id, r.newTatMs)
    return r
  }
  const take = async (id: string, want: number): Promise<{ granted: number; waitMs: number }> => {
    try {
      const key = `${opts.prefix ?? ''}ratelimit:meta:${id}`
      const r = (await opts.redis.eval(script, 1, key, opts.ratePerSecond, opts.burst, want)) as [number, number]
      return { granted: Number(r[0]), waitMs: Number(r[1]) }
    } catch (err) {
      opts.onFallback?.(err)
      return takeLocal(id, want)
    }
  }

  const lanes = new Map<string, (() => void)[]>()
  const drain = async (id: string, waiters: (() => void)[]): Promise<void> => {
    while (waiters.length > 0) {
      const { granted, waitMs } = await take(id, Math.min(waiters.length, maxBatch))
      for (const go of waiters.splice(0, granted)) go()
      if (granted === 0) await new Promise((r) => setTimeout(r, Math.max(1, waitMs)))
    }
    lanes.delete(id)
  }
  return {
    acquire(phoneNumberId) {
      return new Promise<void>((resolve) => {
        const lane = lanes.get(phoneNumberId)
        if (lane !== undefined) {
          lane.push(resolve)
          return
        }
        const waiters = [resolve]
        lanes.set(phoneNumberId, waiters)
        void drain(phoneNumberId, waiters)
      })
    },
  }
}
