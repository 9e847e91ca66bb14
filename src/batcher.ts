/**
 * Micro-batching: callers add one item and await its own result; items that arrive within
 * `maxWaitMs` of each other (or until `maxSize`) are flushed together in one round trip.
 * This is how concurrent webhooks share one Kafka produce request and concurrent
 * keys share one multi-row INSERT, so throughput grows with load instead of with round trips.
 */
export interface BatcherOptions<In, Out> {
  maxSize: number
  maxWaitMs: number
  /**
   * Flushes allowed at once. While that many are in flight, items keep gathering and go out
   * together when one returns: batches grow with load (Nagle-like) instead of queueing requests.
   */
  maxInFlight?: number
  /** Must return one result per input, in input order. A throw rejects every item of the batch. */
  flush: (items: In[]) => Promise<Out[]>
}

export interface Batcher<In, Out> {
  add: (item: In) => Promise<Out>
  /** Flushes what is pending and waits for every flush in flight. */
  drain: () => Promise<void>
  readonly pending: number
}

interface Waiter<In, Out> {
  item: In
  resolve: (value: Out) => void
  reject: (err: unknown) => void
}

export function createBatcher<In, Out>(opts: BatcherOptions<In, Out>): Batcher<In, Out> {
  const queue: Waiter<In, Out>[] = []
  let timer: NodeJS.Timeout | undefined
  const inFlight = new Set<Promise<void>>()

  const maxInFlight = opts.maxInFlight ?? Infinity

  const flushNow = (): void => {
    if (timer !== undefined) {
      clearTimeout(timer)
      timer = undefined
    }
    while (queue.length > 0 && inFlight.size < maxInFlight) {
      const batch = queue.splice(0, opts.maxSize)
      const p: Promise<void> = run(batch).finally(() => {
        inFlight.delete(p)
        if (queue.length > 0) flushNow()
      })
      inFlight.add(p)
    }
  }

  const run = async (batch: Waiter<In, Out>[]): Promise<void> => {
    try {
      const results = await opts.flush(batch.map((w) => w.item))
      if (results.length !== batch.length) {
        throw new Error(`batch flush returned ${results.length} results for ${batch.length} items`)
      }
      batch.forEach((w, i) => w.resolve(results[i] as Out))
    } catch (err) {
      for (const w of batch) w.reject(err)
    }
  }

  return {
    add(item) {
      return new Promise<Out>((resolve, reject) => {
        queue.push({ item, resolve, reject })
        if (queue.length >= opts.maxSize) flushNow()
        else timer ??= setTimeout(flushNow, opts.maxWaitMs)
      })
    },
    async drain() {
      flushNow()
      while (inFlight.size > 0) await Promise.all(inFlight)
    },
    get pending() {
      return queue.length
    },
  }
}
