/**
 * Offsets of one partition between fetch and commit. Records finish out of order (different
 * conversations run concurrently), but Kafka only stores one committed offset per partition:
 * the next offset to read. So we commit the contiguous prefix of finished records and nothing
 * past the lowest unfinished one; after a crash, everything from there is read again and the
 * dedup claims keep it from reaching anyone twice.
 */
export class PartitionTracker {
  /** offset -> finished? Insertion order is offset order because Kafka delivers in order. */
  readonly #open = new Map<number, boolean>()
  #committable: number | undefined
  #lastCommitted: number | undefined

  /** Returns false when the offset is already tracked (a re-fetch after a rebalance or seek). */
  start(offset: number): boolean {
    if (this.#open.has(offset)) return false
    if (this.#committable !== undefined && offset < this.#committable) return false
    this.#open.set(offset, false)
    return true
  }

  finish(offset: number): void {
    if (!this.#open.has(offset)) return
    this.#open.set(offset, true)
    for (const [o, done] of this.#open) {
      if (!done) break
      this.#open.delete(o)
      this.#committable = o + 1
    }
  }

  /** The offset to commit (next to read), or undefined when nothing new is committable. */
  takeCommit(): number | undefined {
    if (this.#committable === undefined || this.#committable === this.#lastCommitted) return undefined
    this.#lastCommitted = this.#committable
    return this.#committable
  }

  /** A commit that failed must be tried again. */
  commitFailed(offset: number): void {
    if (this.#lastCommitted === offset) this.#lastCommitted = undefined
  }

  get inFlight(): number {
    return this.#open.size
  }

  get lowestUnfinished(): number | undefined {
    for (const [o, done] of this.#open) if (!done) return o
    return undefined
  }
}
