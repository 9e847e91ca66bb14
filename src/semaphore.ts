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
