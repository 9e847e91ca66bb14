import { createRequire } from 'node:module'

/**
 * kafkajs 2.2.4 (its last release) re-arms a pending-request check after every response, on every
 * connection, even when nothing is pending and nothing is throttled: the delay it computes is then
 * negative, Node turns it into 1 ms, and each connection runs a 1 kHz timer loop for as long as it
 * lives (kafkajs issues #1704 and #1751; on Node 24 it also prints TimeoutNegativeWarning). A check
 * is only needed while requests wait in the queue or the broker asked for client-side throttling;
 * otherwise the next push or response checks the queue anyway. Measured in BENCHMARKS.md.
 */
interface RequestQueueShape {
  pending: unknown[]
  throttledUntil: number
  scheduleCheckPendingRequests: (this: RequestQueueShape) => void
}

let applied: boolean | undefined

/** Installs the idle guard once per process; returns false when kafkajs's internals are not as expected. */
export function guardKafkaRequestQueueIdle(): boolean {
  if (applied !== undefined) return applied
  applied = false
  const require = createRequire(import.meta.url)
  let mod: unknown
  try {
    mod = require('kafkajs/src/network/requestQueue/index.js')
  } catch {
    return false
  }
  const proto: unknown = typeof mod === 'function' ? (mod as { prototype: unknown }).prototype : undefined
  if (typeof proto !== 'object' || proto === null) return false
  const original: unknown = Reflect.get(proto, 'scheduleCheckPendingRequests')
  if (typeof original !== 'function') return false
  const schedule = original as RequestQueueShape['scheduleCheckPendingRequests']
  Reflect.set(proto, 'scheduleCheckPendingRequests', function (this: RequestQueueShape) {
    // A shape other than the one read above (another kafkajs version): keep kafkajs's own behaviour.
    const idle = Array.isArray(this.pending) && this.pending.length === 0 && !(this.throttledUntil > Date.now())
    if (!idle) schedule.call(this)
  })
  applied = true
  return true
}
