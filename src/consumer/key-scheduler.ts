/**
 * Runs tasks one at a time per key and many keys at once, up to a global limit.
 * Per-partition sequential processing would cap throughput at partitions / Meta latency;
 * per-key serial order is all a conversation needs.
 */
export interface KeyScheduler {
  /** Queues a task behind earlier tasks of the same key. Resolves when the task has run. */
  run: (key: string, task: () => Promise<void>) => Promise<void>
  /** Resolves when the number of queued + running tasks is below the limit (backpressure). */
  waitForCapacity: () => Promise<void>
  readonly size: number
  /** Resolves when every queued task has run. */
  idle: () => Promise<void>
}

export function createKeyScheduler(maxInFlight: number): KeyScheduler {
  const tails = new Map<string, Promise<void>>()
  let size = 0
  let waiters: (() => void)[] = []
  let idleWaiters: (() => void)[] = []

  const release = (): void => {
    size--
    if (size < maxInFlight && waiters.length > 0) {
      const w = waiters
      waiters = []
      for (const fn of w) fn()
    }
    if (size === 0) {
      const w = idleWaiters
      idleWaiters = []
      for (const fn of w) fn()
    }
  }

  return {
    run(key, task) {
      size++
      const prev = tails.get(key) ?? Promise.resolve()
      // The task never rejects into the chain: a failing task must not stop its key's queue.
      const next = prev.then(task).then(
        () => undefined,
        () => undefined,
      )
      tails.set(key, next)
      void next.then(() => {
        if (tails.get(key) === next) tails.delete(key)
        release()
      })
      return next
    },
    waitForCapacity() {
      if (size < maxInFlight) return Promise.resolve()
      return new Promise((resolve) => waiters.push(resolve))
    },
    get size() {
      return size
    },
    idle() {
      if (size === 0) return Promise.resolve()
      return new Promise((resolve) => idleWaiters.push(resolve))
    },
  }
}
