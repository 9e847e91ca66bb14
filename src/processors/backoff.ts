export interface BackoffOptions {
  /** Delay before the first retry. */
  baseMs: number
  /** Ceiling of the exponential part. */
  maxMs: number
  /** 0..1: the share of the delay that is randomised (0 = none, 1 = full jitter). */
  jitter: number
  /** What the platform asked for (Retry-After, rate-limit hints); never retried sooner. */
  retryAfterMs?: number
}

/**
 * Delay before retry number `attempt` (1 = first retry): base·2^(attempt-1), capped, then reduced
 * by up to `jitter` of itself so that records failing together (a Meta 5xx burst) spread out
 * instead of retrying in lockstep. `random` is injected to keep the stage pure and testable.
 */
export function backoffDelay(attempt: number, opts: BackoffOptions, random: () => number): number {
  const n = Number.isFinite(attempt) && attempt >= 1 ? Math.floor(attempt) : 1
  const exp = Math.min(opts.maxMs, opts.baseMs * 2 ** (n - 1))
  const jitter = clamp(opts.jitter, 0, 1)
  const r = clamp(random(), 0, 1)
  const delay = Math.round(exp * (1 - jitter * r))
  // The platform's own hint wins even above maxMs: retrying earlier only earns another 429.
  return Math.max(delay, opts.retryAfterMs ?? 0)
}

/** Meta allows about one message per 6 s to the same user (facts §3.3). */
const pairFloorMs = 6_000

/**
 * Per-recipient delay after the n-th consecutive 131056 (pair rate limit) for that user: ~4^n s
 * as Meta's guidance says, never under the 6 s pair interval, capped at `capMs`.
 */
export function pairLimitDelay(n: number, capMs = 300_000): number {
  const k = Number.isFinite(n) && n >= 1 ? Math.floor(n) : 1
  return Math.min(capMs, Math.max(pairFloorMs, 1000 * 4 ** k))
}

function clamp(v: number, lo: number, hi: number): number {
  return Number.isNaN(v) ? lo : Math.min(hi, Math.max(lo, v))
}
