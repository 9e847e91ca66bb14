import { errorMessage } from '../errors.js'
import type { Logger } from '../log.js'
import type { Metrics } from '../metrics.js'
import { createKeyScheduler } from './key-scheduler.js'
import { PartitionTracker } from './partition-tracker.js'
import { runRecord, type FlowHandler, type RecordMeta, type RunnerOptions } from './record-runner.js'

export interface GroupOptions extends RunnerOptions {
  groupId: string
  topic: string
  /** Records fetched and not finished, across all partitions of this process. */
  maxInFlight: number
  commitIntervalMs: number
  fromBeginning?: boolean
  /** Most bytes one fetch takes from a partition (default 256 kB). */
  fetchBytesPerPartition?: number
  /** The broker answers a fetch once it has this many bytes (default 1: as soon as it has any record). */
  fetchMinBytes?: number
  /** Longest a fetch waits at the broker for fetchMinBytes (default 50 ms). */
  fetchMaxWaitMs?: number
}

export interface RunningGroup {
  /** Stops fetching, lets in-flight records finish (or abandons them at the deadline), commits, leaves. */
  stop: (deadlineMs?: number) => Promise<void>
  /** The partitions of the topic this member owns now. */
  partitions: () => number[]
}

/** A partition's next offset to read, committed for the group. */
export interface OffsetToCommit {
  partition: number
  offset: number
}

/**
 * What a consumer group member does with the records its Kafka client fetches, whichever client
 * that is: each record runs behind the earlier ones of its key (the conversation), up to a limit
 * across partitions; the contiguous prefix of finished offsets is committed every interval.
 */
export interface GroupMember {
  /** The group gave this member `partitions` (a join after a rebalance); returns the new assignment count. */
  assigned: (partitions: readonly number[]) => number
  /**
   * The member's assignment count when `partition` became (again) ours, or undefined when it is not
   * ours. A record fetched before that belongs to an earlier ownership and must not run.
   */
  ownedSince: (partition: number) => number | undefined
  readonly stopping: boolean
  /**
   * Queues a fetched record behind its key once there is capacity (backpressure: the caller stops
   * fetching while this waits), yielding to the event loop now and then. `since` is
   * ownedSince(partition) when the record was fetched.
   */
  admit: (record: RecordMeta, since: number) => Promise<void>
  partitions: () => number[]
  startCommits: () => void
  /** Stops admitting, lets in-flight records finish until the deadline, commits what finished. */
  drain: (deadlineMs: number) => Promise<void>
}

/**
 * Each started record runs its synchronous first steps (decode, parse, cache hits) in microtasks;
 * yielding every this many records lets webhooks in the same process be answered meanwhile.
 */
const YIELD_EVERY_RECORDS = 32

export function createGroupMember<T>(
  handler: FlowHandler<T>,
  opts: GroupOptions,
  deps: { log: Logger; metrics?: Metrics | undefined },
  commitOffsets: (offsets: readonly OffsetToCommit[]) => Promise<void>,
): GroupMember {
  const { log, metrics } = deps
  const scheduler = createKeyScheduler(opts.maxInFlight)
  const trackers = new Map<number, PartitionTracker>()
  /**
   * Partitions this member owns, each with the generation it was (re)assigned in. A record queued
   * behind its key when its partition moves to another member would otherwise still run here while
   * the new owner re-reads it from the committed offset: two members working one conversation at
   * once. A queued record runs only if its partition is still ours in the generation it was fetched
   * in; records already running finish (the dedup claim and the wait for a claim held elsewhere
   * keep them from overtaking the new owner).
   */
  const owned = new Map<number, number>()
  let generation = 0
  const abort = new AbortController()
  let stopping = false
  let admitted = 0

  const trackerOf = (partition: number): PartitionTracker => {
    let t = trackers.get(partition)
    if (t === undefined) trackers.set(partition, (t = new PartitionTracker()))
    return t
  }

  const commit = async (): Promise<void> => {
    const offsets: OffsetToCommit[] = []
    for (const [partition, t] of trackers) {
      const offset = t.takeCommit()
      if (offset !== undefined) offsets.push({ partition, offset })
    }
    if (offsets.length === 0) return
    try {
      await commitOffsets(offsets)
    } catch (err) {
      // Not a member any more (rebalance) or broker away: the next owner re-reads from the last
      // committed offset and the dedup claims absorb the overlap.
      for (const o of offsets) trackers.get(o.partition)?.commitFailed(o.offset)
      log.warn({ err: errorMessage(err) }, 'offset commit failed')
    }
  }
  let commitTimer: NodeJS.Timeout | undefined
  const commitLoop = (): void => {
    commitTimer = setTimeout(() => {
      void commit().finally(() => {
        if (!stopping) commitLoop()
      })
    }, opts.commitIntervalMs)
  }

  const runQueued = async (record: RecordMeta, since: number, tracker: PartitionTracker): Promise<void> => {
    try {
      if (owned.get(record.partition) !== since) {
        // Handed over while it waited behind its key: not ours to run any more.
        metrics?.outcomes.inc({ flow: handler.flow, outcome: 'handed-over' })
        return
      }
      const outcome = await runRecord(handler, record, opts, { log, metrics, signal: abort.signal })
      if (outcome === 'done') tracker.finish(record.offset)
    } finally {
      metrics?.inFlight.dec({ flow: handler.flow })
    }
  }

  return {
    assigned(partitions) {
      // Partitions that left us: forget their state; their new owner starts at the committed offset.
      const mine = new Set(partitions)
      generation++
      for (const p of trackers.keys()) if (!mine.has(p)) trackers.delete(p)
      for (const p of owned.keys()) if (!mine.has(p)) owned.delete(p)
      for (const p of mine) if (!owned.has(p)) owned.set(p, generation)
      log.info({ partitions: [...mine] }, 'partitions assigned')
      return generation
    },
    ownedSince: (partition) => owned.get(partition),
    get stopping() {
      return stopping
    },
    async admit(record, since) {
      if (++admitted % YIELD_EVERY_RECORDS === 0) await new Promise((r) => setImmediate(r))
      await scheduler.waitForCapacity()
      if (stopping || owned.get(record.partition) !== since) return
      const tracker = trackerOf(record.partition)
      // Already started: a re-fetch after a rebalance or a restarted fetch.
      if (!tracker.start(record.offset)) return
      const key = record.key?.toString() ?? `${record.partition}:${record.offset}`
      metrics?.inFlight.inc({ flow: handler.flow })
      void scheduler.run(key, () => runQueued(record, since, tracker))
    },
    partitions: () => [...owned.keys()],
    startCommits: commitLoop,
    async drain(deadlineMs) {
      stopping = true
      clearTimeout(commitTimer)
      // Finish what is in flight so its offsets commit; past the deadline, abandon the rest
      // (uncommitted, so the next owner redoes it; claims prevent a second send).
      const deadline = setTimeout(() => abort.abort(), deadlineMs)
      await scheduler.idle()
      clearTimeout(deadline)
      await commit()
    },
  }
}
