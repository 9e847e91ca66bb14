/**
 * What a fake received, in arrival order, with a wait that wakes on every change instead of
 * sleeping in a loop, and that fails with a readable list of what did arrive.
 */
export class Recorder<T> {
  readonly items: T[] = []
  private readonly waiters = new Set<() => void>()

  /**
   * `keep` bounds memory for long bench runs: past it the oldest items are dropped (in batches,
   * so the cost stays amortised O(1) per push).
   */
  constructor(
    private readonly describe: (item: T) => string,
    private readonly keep: number = Infinity,
  ) {}

  push(item: T): void {
    this.items.push(item)
    if (this.items.length > this.keep * 1.1 + 10) this.items.splice(0, this.items.length - this.keep)
    this.changed()
  }

  /** Call after mutating a recorded item (e.g. a link download finished). */
  changed(): void {
    for (const w of [...this.waiters]) w()
  }

  reset(): void {
    this.items.length = 0
  }

  waitFor(predicate: (item: T) => boolean, timeoutMs = 5000, what = 'a matching request'): Promise<T> {
    return this.waitUntil(() => this.items.find(predicate), timeoutMs, what)
  }

  /** Resolves with the first `count` matching items once that many arrived. */
  waitForCount(count: number, predicate: (item: T) => boolean = () => true, timeoutMs = 5000): Promise<T[]> {
    return this.waitUntil(
      () => {
        const hits = this.items.filter(predicate)
        return hits.length >= count ? hits.slice(0, count) : undefined
      },
      timeoutMs,
      `${count} matching requests`,
    )
  }

  private waitUntil<R>(probe: () => R | undefined, timeoutMs: number, what: string): Promise<R> {
    const now = probe()
    if (now !== undefined) return Promise.resolve(now)
    return new Promise<R>((resolve, reject) => {
      const check = (): void => {
        const hit = probe()
        if (hit === undefined) return
        done()
        resolve(hit)
      }
      const timer = setTimeout(() => {
        done()
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; received ${this.summary()}`))
      }, timeoutMs)
      const done = (): void => {
        clearTimeout(timer)
        this.waiters.delete(check)
      }
      this.waiters.add(check)
    })
  }

  summary(max = 20): string {
    if (this.items.length === 0) return 'nothing'
    const lines = this.items.slice(-max).map((i, n) => `  ${n + 1}. ${this.describe(i)}`)
    const skipped = this.items.length > max ? ` (last ${max} shown)` : ''
    return `${this.items.length} request(s)${skipped}:\n${lines.join('\n')}`
  }
}

export function clip(s: string, max = 200): string {
  return s.length > max ? `${s.slice(0, max)}…` : s
}
