import { errorMessage } from '../errors.js'
import type { Logger } from '../log.js'
import type { ObjectStore } from '../sinks/object-store.js'

const DAY_MS = 86_400_000

/** Rows kept `days`, and the DELETE of those older than a cut-off (returns how many went). */
interface ExpiringRows {
  days: number
  expire: (olderThan: Date) => Promise<number>
}

/**
 * Retention, once in a while:
 * - archive and media objects (RETENTION_DAYS): a lifecycle rule where the S3 server has them
 *   (MinIO, AWS), otherwise a sweep by the archive role;
 * - used resend tokens (RESEND_TOKEN_RETENTION_DAYS), by the outbound role that writes them;
 * - tracking rows in a final state (TRACKING_RETENTION_DAYS), by the outbound and inbound roles.
 * Deleting twice is harmless, so several processes may sweep without coordinating; each part fails
 * and retries (next run) on its own.
 */
export function startRetention(opts: {
  objects?: { store: ObjectStore; buckets: readonly string[]; days: number }
  resendTokens?: ExpiringRows
  trackingRows?: ExpiringRows
  everyMs: number
  log: Logger
  now?: () => number
}): { stop: () => void } {
  const now = opts.now ?? Date.now
  const parts: { what: string; run: () => Promise<void> }[] = []
  const { objects, resendTokens, trackingRows } = opts
  if (objects !== undefined) {
    parts.push({
      what: 'objects',
      run: async () => {
        for (const bucket of objects.buckets) {
          if ((await objects.store.applyRetention(bucket, objects.days)) === 'lifecycle') continue
          const removed = await objects.store.sweepExpired(bucket, new Date(now() - objects.days * DAY_MS))
          if (removed > 0) opts.log.info({ bucket, removed }, 'retention sweep removed expired objects')
        }
      },
    })
  }
  // Database rows: one DELETE by age each, logged when it removed anything.
  const rowsPart = (what: string, rows: ExpiringRows): void => {
    parts.push({
      what,
      run: async () => {
        const removed = await rows.expire(new Date(now() - rows.days * DAY_MS))
        if (removed > 0) opts.log.info({ removed, what }, 'retention sweep removed expired rows')
      },
    })
  }
  if (resendTokens !== undefined) rowsPart('used resend tokens', resendTokens)
  if (trackingRows !== undefined) rowsPart('final tracking rows', trackingRows)
  let running = false
  const sweep = async (): Promise<void> => {
    if (running) return
    running = true
    for (const part of parts) {
      try {
        await part.run()
      } catch (err) {
        opts.log.warn({ err: errorMessage(err), part: part.what }, 'retention sweep failed; next run retries')
      }
    }
    running = false
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
