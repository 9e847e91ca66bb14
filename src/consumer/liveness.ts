/**
 * Whether this process can still do its work. A consumer that kafkajs gave up on (a CRASH it does
 * not restart from) leaves the process serving HTTP while its partitions sit still: /health must
 * then fail so the supervisor restarts the process, and the group's partitions move elsewhere.
 */
export interface Liveness {
  /** Records a part that stopped for good (a consumer group that crashed without restart). */
  fail: (part: string, reason: string) => void
  /** Empty while alive; otherwise what stopped and why. */
  readonly failures: readonly { part: string; reason: string; at: number }[]
  readonly alive: boolean
}

export function createLiveness(now: () => number = Date.now): Liveness {
  const failures: { part: string; reason: string; at: number }[] = []
  return {
    fail: (part, reason) => void failures.push({ part, reason, at: now() }),
    failures,
    get alive() {
      return failures.length === 0
    },
  }
}
