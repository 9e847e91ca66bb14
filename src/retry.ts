import { backoffDelay } from './processors/backoff.js'

/**
 * The one bounded retry of the bridge. Every loop that waits and tries again goes through here, so
 * each one stops at shutdown (the signal) and at a ceiling measured in time, and reads time from an
 * injected clock. Backoff is exponential with jitter, capped, and never shorter than a platform's
 * own hint (Retry-After, pair pacing).
 */
export interface RetryPolicy {
  /** Delay before the first retry. */
  baseMs: number
  /** Cap of the exponential part. */
  maxMs: number
  /** Share of each delay that is randomised (default 0.5), so failures together do not retry in lockstep. */
  jitter?: number
  /** Time from the first try after which no retry starts (Infinity: until shutdown). */
  maxDurationMs: number
  /** Attempts after which no retry starts (0: no limit; time is the ceiling). */
  maxAttempts?: number
}

export interface RetryDeps {
  /** Shutdown: the wait ends at once and the retry reports 'aborted'. */
  signal?: AbortSignal
  now?: () => number
  random?: () => number
}

export type WaitOutcome = 'again' | 'expired' | 'aborted'

/** Resolves true after `ms`, or false as soon as the signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted === true) return Promise.resolve(false)
  return new Promise((resolve) => {
    const onAbort = (): void => {
      clearTimeout(t)
      resolve(false)
    }
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve(true)
    }, ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

/**
 * The state of one thing being retried: how many tries so far and since when. `wait` sleeps the
 * next backoff and says whether to try again, or that the ceiling (time or attempts) or shutdown
 * came first. A hint longer than the time left is not waited out: it expires at once.
 */
export class Retrier {
  private startedAt: number
  private tries = 1
  private readonly now: () => number
  private readonly random: () => number

  constructor(
    private readonly policy: RetryPolicy,
    private readonly deps: RetryDeps = {},
  ) {
    this.now = deps.now ?? Date.now
    this.random = deps.random ?? Math.random
    this.startedAt = this.now()
  }

  /** Tries made so far (1 before the first wait). */
  get attempt(): number {
    return this.tries
  }

  /**
   * The thing was already being tried at `ms` (a clock kept elsewhere, e.g. on a database row): the
   * time ceiling counts from then if that is earlier than this retrier's own start.
   */
  countFrom(ms: number): void {
    if (Number.isFinite(ms)) this.startedAt = Math.min(this.startedAt, ms)
  }

  get elapsedMs(): number {
    return this.now() - this.startedAt
  }

  /** Delay before the next try; `hintMs` is what the platform asked for. */
  nextDelay(hintMs?: number): number {
    return backoffDelay(
      this.tries,
      {
        baseMs: this.policy.baseMs,
        maxMs: this.policy.maxMs,
        jitter: this.policy.jitter ?? 0.5,
        ...(hintMs === undefined ? {} : { retryAfterMs: hintMs }),
      },
      this.random,
    )
  }

  async wait(hintMs?: number): Promise<WaitOutcome> {
    if (this.deps.signal?.aborted === true) return 'aborted'
    const max = this.policy.maxAttempts ?? 0
    if (max > 0 && this.tries >= max) return 'expired'
    const delay = this.nextDelay(hintMs)
    if (this.elapsedMs + delay > this.policy.maxDurationMs) return 'expired'
    if (!(await sleep(delay, this.deps.signal))) return 'aborted'
    this.tries++
    return 'again'
  }
}

export type RetryResult<T> = { ok: true; value: T } | { ok: false; reason: 'expired' | 'aborted'; error: unknown }

/**
 * Calls `fn` until it resolves. A rejection for which `retryable` says false ends the retry at once
 * (rethrown); any other is retried after the backoff until the policy's ceiling or shutdown.
 */
export async function retryUntil<T>(
  fn: (attempt: number) => Promise<T>,
  policy: RetryPolicy,
  deps: RetryDeps & { retryable?: (err: unknown) => boolean; onError?: (err: unknown, attempt: number) => void } = {},
): Promise<RetryResult<T>> {
  const r = new Retrier(policy, deps)
  for (;;) {
    try {
      return { ok: true, value: await fn(r.attempt) }
    } catch (err) {
      if (deps.retryable !== undefined && !deps.retryable(err)) throw err
      deps.onError?.(err, r.attempt)
      const next = await r.wait()
      if (next !== 'again') return { ok: false, reason: next, error: err }
    }
  }
}
