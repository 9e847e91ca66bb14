/**
 * Per-source token buckets for the ingest node. Each source (a client IP, or an IPv6 /64) holds at
 * most `burst` tokens and gains `ratePerSec` tokens a second; a request takes one token or is
 * refused with the seconds until one is available (the Retry-After value).
 *
 * Memory is bounded: sources live in a Map kept in least-recently-used order. A bucket left alone
 * long enough to refill completely is indistinguishable from a new one, so it is dropped; and when
 * more than `maxSources` are active at once, the least recently seen are dropped first (they come
 * back with a full bucket, which errs on the side of serving them).
 */

export interface RateLimitConfig {
  /** Tokens gained per second per source. */
  readonly ratePerSec: number
  /** Bucket capacity: the largest burst a source can send after being quiet. */
  readonly burst: number
  /** Most sources tracked at once; default 100 000 (a few MB). */
  readonly maxSources?: number
}

export type TakeResult = { readonly ok: true } | { readonly ok: false; readonly retryAfterSec: number }

export interface RateLimiter {
  /** Takes one token from `source`'s bucket at `nowMs` (a monotonic clock in ms). */
  take: (source: string, nowMs: number) => TakeResult
  /** Sources currently tracked (for tests and metrics). */
  readonly size: () => number
}

/** 2000 requests/s sustained, bursts of 4000: far above any one real sender, and above the bench. */
export const defaultRateLimit: Required<RateLimitConfig> = { ratePerSec: 2000, burst: 4000, maxSources: 100_000 }

interface Bucket {
  tokens: number
  atMs: number
}

export function createRateLimiter(config: RateLimitConfig): RateLimiter {
  const ratePerSec = config.ratePerSec
  const burst = config.burst
  const maxSources = config.maxSources ?? defaultRateLimit.maxSources
  if (!(ratePerSec > 0) || !Number.isFinite(ratePerSec)) throw new RangeError('ratePerSec must be a positive number')
  if (!(burst >= 1) || !Number.isFinite(burst)) throw new RangeError('burst must be at least 1')
  if (!Number.isInteger(maxSources) || maxSources < 1) throw new RangeError('maxSources must be a positive integer')
  const perMs = ratePerSec / 1000
  /** Time after which an untouched bucket is full again, so forgetting it changes nothing. */
  const refillMs = burst / perMs
  const buckets = new Map<string, Bucket>()

  const evict = (nowMs: number): void => {
    // Oldest first: the Map iterates in insertion order and every take re-inserts its source.
    for (const [source, b] of buckets) {
      if (buckets.size > maxSources || nowMs - b.atMs >= refillMs) buckets.delete(source)
      else break
    }
  }

  return {
    take(source, nowMs) {
      const b = buckets.get(source)
      let tokens: number
      if (b === undefined) {
        tokens = burst
      } else {
        // A clock going backwards (it should not) never mints tokens.
        tokens = Math.min(burst, b.tokens + Math.max(0, nowMs - b.atMs) * perMs)
        buckets.delete(source)
      }
      let result: TakeResult
      if (tokens >= 1) {
        tokens -= 1
        result = { ok: true }
      } else {
        result = { ok: false, retryAfterSec: Math.max(1, Math.ceil((1 - tokens) / perMs / 1000)) }
      }
      buckets.set(source, { tokens, atMs: nowMs })
      evict(nowMs)
      return result
    },
    size: () => buckets.size,
  }
}

/**
 * The bucket key of a client address. IPv4 (and IPv4-mapped IPv6, as node shows IPv4 peers of a
 * dual-stack socket) is keyed by the address; other IPv6 by its /64, since one host commonly owns a
 * whole /64 and could otherwise rotate through addresses to get a fresh bucket each time.
 */
export function sourceKey(address: string): string {
  const a = address.toLowerCase()
  if (!a.includes(':')) return a
  const mapped = /^(?:0{0,4}:){0,5}(?::)?ffff:(\d{1,3}(?:\.\d{1,3}){3})$/.exec(a)
  if (mapped?.[1] !== undefined) return mapped[1]
  const hexMapped = /^(?:0{1,4}:){5}ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(a)
  if (hexMapped?.[1] !== undefined && hexMapped[2] !== undefined) {
    const hi = parseInt(hexMapped[1], 16)
    const lo = parseInt(hexMapped[2], 16)
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`
  }
  const groups = expandIpv6(a)
  return groups === undefined ? a : `${groups.slice(0, 4).join(':')}::/64`
}

function expandIpv6(a: string): string[] | undefined {
  const halves = a.split('::')
  if (halves.length > 2) return undefined
  const head = halves[0] === '' || halves[0] === undefined ? [] : halves[0].split(':')
  const tail = halves.length === 2 && halves[1] !== '' && halves[1] !== undefined ? halves[1].split(':') : []
  const missing = 8 - head.length - tail.length
  if (missing < 0 || (halves.length === 1 && missing !== 0)) return undefined
  const all = [...head, ...Array<string>(missing).fill('0'), ...tail]
  if (!all.every((g) => /^[0-9a-f]{1,4}$/.test(g))) return undefined
  return all.map((g) => g.padStart(4, '0'))
}
