/** Counting semaphore: at most `size` holders at once, waiters served in arrival order. */
export interface Semaphore {
  acquire: () => Promise<() => void>
  readonly available: number
}

export function createSemaphore(size: number): Semaphore {
  let free = size
  const waiters: (() => void)[] = []
  const release = (): void => {
    const next = waiters.shift()
    if (next !== undefined) next()
    else free++
  }
  return {
    acquire() {
      if (free > 0) {
        free--
        return Promise.resolve(once(release))
      }
      return new Promise((resolve) => waiters.push(() => resolve(once(release))))
    },
    get available() {
      return free
    },
  }
}

function once(fn: () => void): () => void {
  let done = false
  return () => {
    if (done) return
    done = true
    fn()
  }
}

/**
 * A budget of bytes: `reserve(n)` waits until n more bytes fit (a request larger than the whole
 * budget waits until nothing else is held, so it never waits forever); `hold(n)` counts bytes that
 * already exist without waiting, so the next reservation sees them.
 */
export interface ByteBudget {
  reserve: (bytes: number, signal?: AbortSignal) => Promise<() => void>
  hold: (bytes: number) => () => void
  readonly used: number
}

export function createByteBudget(limit: number): ByteBudget {
  let used = 0
  const waiters: { bytes: number; grant: () => void }[] = []
  const fits = (bytes: number) => used === 0 || used + bytes <= limit
  const take = (bytes: number): (() => void) => {
    used += bytes
    return once(() => {
      used -= bytes
      // First come, first served: a big waiter at the head is not overtaken by small ones.
      while (waiters.length > 0 && fits(waiters[0]?.bytes ?? 0)) waiters.shift()?.grant()
    })
  }
  return {
    reserve(bytes, signal) {
      if (waiters.length === 0 && fits(bytes)) return Promise.resolve(take(bytes))
      return new Promise((resolve, reject) => {
        const w = {
          bytes,
          grant: () => {
            signal?.removeEventListener('abort', onAbort)
            resolve(take(bytes))
          },
        }
        const onAbort = () => {
          const i = waiters.indexOf(w)
          if (i >= 0) waiters.splice(i, 1)
          reject(signal?.reason instanceof Error ? signal.reason : new Error('aborted'))
        }
        signal?.addEventListener('abort', onAbort, { once: true })
        waiters.push(w)
      })
    },
    hold: take,
    get used() {
      return used
    },
  }
}
