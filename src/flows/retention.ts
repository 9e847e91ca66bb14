import { errorMessage } from '../errors.js'
import type { Logger } from '../log.js'
import type { ObjectStore } from '../sinks/object-store.js'

/**
 * Archive and media retention (RETENTION_DAYS): a lifecycle rule where the S3 server has them
 * (MinIO, AWS), otherwise a sweep now and then by the archive role. Deleting an object twice is
 * harmless, so several archive processes may sweep without coordinating.
 */
export function startRetention(opts: {
  store: ObjectStore
  buckets: readonly string[]
  days: number
  everyMs: number
  log: Logger
  now?: () => number
}): { stop: () => void } {
  const now = opts.now ?? Date.now
  let running = false
  const sweep = async (): Promise<void> => {
    if (running) return
    running = true
    try {
      for (const bucket of opts.buckets) {
        if ((await opts.store.applyRetention(bucket, opts.days)) === 'lifecycle') continue
        const removed = await opts.store.sweepExpired(bucket, new Date(now() - opts.days * 86_400_000))
        if (removed > 0) opts.log.info({ bucket, removed }, 'retention sweep removed expired objects')
      }
    } catch (err) {
      opts.log.warn({ err: errorMessage(err) }, 'retention sweep failed; next run retries')
    } finally {
      running = false
    }
  }
  // Not at start: every process start would list every bucket. Expiry is counted in days; an hour late is nothing.
  const timer = setInterval(() => void sweep(), opts.everyMs)
  timer.unref()
  return {
    stop() {
      clearInterval(timer)
    },
  }
}
