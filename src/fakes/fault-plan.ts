/**
 * Fault and latency injection shared by both fakes. Faults are scripted (failNext) so tests are
 * deterministic; latency is sampled so the bench sees a realistic tail, not a constant.
 */

/** A fixed delay, or a log-normal distribution given by its median and 99th percentile. */
export type LatencyModel = number | { fixedMs: number } | { medianMs: number; p99Ms: number }

const Z_99 = 2.3263478740408408 // standard normal quantile at 0.99

/** Box-Muller; `rnd` is injectable so tests can check the distribution's parameters. */
function standardNormal(rnd: () => number): number {
  const u = 1 - rnd() // (0, 1]: log(0) would be -Infinity
  const v = rnd()
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v)
}

export function sampleLatencyMs(model: LatencyModel | undefined, rnd: () => number = Math.random): number {
  if (model === undefined) return 0
  if (typeof model === 'number') return Math.max(0, model)
  if ('fixedMs' in model) return Math.max(0, model.fixedMs)
  const { medianMs, p99Ms } = model
  if (medianMs <= 0) return 0
  // median = e^mu; p99 = e^(mu + Z_99 * sigma)
  const sigma = p99Ms > medianMs ? Math.log(p99Ms / medianMs) / Z_99 : 0
  return medianMs * Math.exp(sigma * standardNormal(rnd))
}

export const sleep = (ms: number): Promise<void> =>
  ms <= 0 ? Promise.resolve() : new Promise((resolve) => setTimeout(resolve, ms))

interface Scripted<F, C> {
  remaining: number
  fault: F
  match: ((ctx: C) => boolean) | undefined
}

/**
 * Ordered queue of scripted faults. `take` consumes one use of the first entry that matches the
 * request, so `failNext(2, x)` fails exactly the next two matching requests and no others.
 */
export class FaultQueue<F, C> {
  private entries: Scripted<F, C>[] = []

  add(n: number, fault: F, match?: (ctx: C) => boolean): void {
    if (n > 0) this.entries.push({ remaining: n, fault, match })
  }

  take(ctx: C): F | undefined {
    const i = this.entries.findIndex((e) => e.match === undefined || e.match(ctx))
    if (i < 0) return undefined
    const e = this.entries[i]
    if (e === undefined) return undefined
    e.remaining -= 1
    if (e.remaining <= 0) this.entries.splice(i, 1)
    return e.fault
  }

  get pending(): number {
    return this.entries.reduce((n, e) => n + e.remaining, 0)
  }

  clear(): void {
    this.entries = []
  }
}

/**
 * Token bucket per key: `burst` requests at once, refilled at `perSecond`. Used for the per-number
 * mps limit (burst = mps), the per-recipient pair limit (burst 45, 1 per 6 s) and Genesys' per-token
 * requests/min. Returns 0 when allowed, else the ms until one token is back.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>()

  constructor(
    readonly burst: number,
    readonly perSecond: number,
  ) {}

  hit(key: string, now: number = performance.now()): number {
    let b = this.buckets.get(key)
    if (b === undefined) {
      b = { tokens: this.burst, at: now }
      this.buckets.set(key, b)
    } else {
      b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) / 1000) * this.perSecond)
      b.at = now
    }
    if (b.tokens >= 1) {
      b.tokens -= 1
      return 0
    }
    return Math.ceil(((1 - b.tokens) / this.perSecond) * 1000)
  }
}
