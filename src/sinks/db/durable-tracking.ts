import { errorMessage } from '../../errors.js'
import type { Logger } from '../../log.js'
import { retryUntil } from '../../retry.js'
import type { TrackingWriter } from './tracking-outcomes.js'

/**
 * Tracking writes that follow an external call record a fact that cannot be redone: Meta answered
 * with a wamid, or said the message was not taken. If such a write failed and the record were
 * retried from the start, the claim would still be held and the outcome would be lost (the wamid
 * unknown, a retryable message stuck as in doubt). So these writes are retried here, with backoff,
 * until the database takes them; the writes are idempotent state changes, so a repeat is harmless.
 */
export function durableTracking(
  tracking: TrackingWriter,
  opts: {
    log: Logger
    baseMs?: number
    maxMs?: number
    giveUpAfterMs?: number
    now?: () => number
    /** Shutdown: the write is given up (thrown), the record stays uncommitted and is redone. */
    signal?: AbortSignal
  },
): TrackingWriter {
  const policy = {
    baseMs: opts.baseMs ?? 100,
    maxMs: opts.maxMs ?? 5000,
    maxDurationMs: opts.giveUpAfterMs ?? 15 * 60_000,
  }
  const persist = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    const r = await retryUntil(fn, policy, {
      ...(opts.now === undefined ? {} : { now: opts.now }),
      ...(opts.signal === undefined ? {} : { signal: opts.signal }),
      onError: (err, n) => {
        if (n % 10 === 1) opts.log.warn({ err: errorMessage(err), what }, 'tracking write failed; retrying')
      },
    })
    if (r.ok) return r.value
    throw r.error
  }
  return {
    markSent: (i) => persist('markSent', () => tracking.markSent(i)),
    markRetrying: (i) => persist('markRetrying', () => tracking.markRetrying(i)),
    markFailed: (i) => persist('markFailed', () => tracking.markFailed(i)),
    markDeadLettered: (i) => persist('markDeadLettered', () => tracking.markDeadLettered(i)),
    release: (i) => persist('release', () => tracking.release(i)),
    drain: () => tracking.drain(),
  }
}
