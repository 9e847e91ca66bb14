import type { Consumer, EachBatchPayload, Kafka } from 'kafkajs'
import { errorMessage } from '../errors.js'
import type { Logger } from '../log.js'
import type { Metrics } from '../metrics.js'
import { createKeyScheduler } from './key-scheduler.js'
import type { Liveness } from './liveness.js'
import { PartitionTracker } from './partition-tracker.js'
import { runRecord, type FlowHandler, type RecordMeta, type RunnerOptions } from './record-runner.js'

export interface GroupOptions extends RunnerOptions {
  groupId: string
  topic: string
  /** Records fetched and not finished, across all partitions of this process. */
  maxInFlight: number
  commitIntervalMs: number
  fromBeginning?: boolean
  /** kafkajs maxBytesPerPartition (default 256 kB). */
  fetchBytesPerPartition?: number
  /** kafkajs minBytes (default 1: the broker answers as soon as it has any record). */
  fetchMinBytes?: number
  /** kafkajs maxWaitTimeInMs (default 50). */
  fetchMaxWaitMs?: number
}

export interface RunningGroup {
  /** Stops fetching, lets in-flight records finish (or abandons them at the deadline), commits, leaves. */
  stop: (deadlineMs?: number) => Promise<void>
  readonly consumer: Consumer
}

/**
 * A consumer group member. Fetching is pipelined: a batch is handed to the key scheduler and its
 * last offset resolved at once, so the next fetch starts while Meta calls are in flight; only the
 * commit waits, for the contiguous prefix of finished offsets. Backpressure: eachBatch waits for
 * capacity, which stops fetching for this member when too much is in flight.
 */
export async function startConsumerGroup<T>(
  kafka: Kafka,
  handler: FlowHandler<T>,
  opts: GroupOptions,
  deps: { log: Logger; metrics?: Metrics; liveness?: Liveness },
): Promise<RunningGroup> {
  const log = deps.log.child({ flow: handler.flow, group: opts.groupId })
  const consumer = kafka.consumer({
    groupId: opts.groupId,
    allowAutoTopicCreation: false,
    // A killed member holds its partitions until the session times out: keep that pause short.
    sessionTimeout: 10_000,
    heartbeatInterval: 3000,
    // A fetch is answered once minBytes are there or maxWait has passed: larger minBytes means
    // fewer, fuller fetches (less per-fetch decode and scheduling) for up to maxWait of latency.
    minBytes: opts.fetchMinBytes ?? 1,
    maxWaitTimeInMs: opts.fetchMaxWaitMs ?? 50,
    // Smaller fetches decode in shorter slices of the event loop, which ingest shares.
    maxBytesPerPartition: opts.fetchBytesPerPartition ?? 256 * 1024,
  })
  const scheduler = createKeyScheduler(opts.maxInFlight)
  const trackers = new Map<number, PartitionTracker>()
  /**
   * Partitions this member owns, each with the generation it was (re)assigned in. kafkajs has no
   * revoke callback, so a record queued behind its key when its partition moves to another member
   * would still run here while the new owner re-reads it from the committed offset: two members
   * working one conversation at once. A queued record runs only if its partition is still ours in
   * the generation it was fetched in; records already running finish (the dedup claim and the wait
   * for a claim held elsewhere keep them from overtaking the new owner).
   */
  const owned = new Map<number, number>()
  let generation = 0
  const abort = new AbortController()
  let stopping = false

  const trackerOf = (partition: number): PartitionTracker => {
    let t = trackers.get(partition)
    if (t === undefined) trackers.set(partition, (t = new PartitionTracker()))
    return t
  }

  const commit = async (): Promise<void> => {
    const offsets: { topic: string; partition: number; offset: string }[] = []
    for (const [partition, t] of trackers) {
      const o = t.takeCommit()
      if (o !== undefined) offsets.push({ topic: opts.topic, partition, offset: String(o) })
    }
    if (offsets.length === 0) return
    try {
      await consumer.commitOffsets(offsets)
    } catch (err) {
      // Not a member any more (rebalance) or broker away: the next owner re-reads from the last
      // committed offset and the dedup claims absorb the overlap.
      for (const o of offsets) trackers.get(o.partition)?.commitFailed(Number(o.offset))
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

  // kafkajs restarts the consumer after retriable errors by itself; after any other it stops for
  // good and this member would sit idle while looking healthy.
  consumer.on(consumer.events.CRASH, (e) => {
    const reason = errorMessage(e.payload.error)
    if (e.payload.restart) {
      log.warn({ err: reason }, 'consumer crashed; kafkajs restarts it')
      return
    }
    log.fatal({ err: reason }, 'consumer crashed and will not restart; /health now fails')
    deps.liveness?.fail(`consumer ${opts.groupId}`, reason)
  })

  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    // Partitions that left us: forget their state; their new owner starts at the committed offset.
    const mine = new Set((e.payload.memberAssignment[opts.topic] ?? []).map(Number))
    generation++
    for (const p of trackers.keys()) if (!mine.has(p)) trackers.delete(p)
    for (const p of owned.keys()) if (!mine.has(p)) owned.delete(p)
    for (const p of mine) if (!owned.has(p)) owned.set(p, generation)
    log.info({ partitions: [...mine] }, 'partitions assigned')
  })

  const eachBatch = async ({
    batch,
    resolveOffset,
    heartbeat,
    isRunning,
    isStale,
  }: EachBatchPayload): Promise<void> => {
    const gen = owned.get(batch.partition)
    // A batch fetched before a rebalance took its partition away: the new owner reads it.
    if (gen === undefined) return
    const tracker = trackerOf(batch.partition)
    let started = 0
    for (const m of batch.messages) {
      if (!isRunning() || isStale() || stopping || owned.get(batch.partition) !== gen) return
      // Each started record runs its synchronous first steps (decode, parse, cache hits) in
      // microtasks; yielding now and then lets webhooks in the same process be answered meanwhile.
      if (++started % 32 === 0) await new Promise((r) => setImmediate(r))
      await scheduler.waitForCapacity()
      const offset = Number(m.offset)
      if (tracker.start(offset)) {
        const record: RecordMeta = {
          topic: batch.topic,
          partition: batch.partition,
          offset,
          key: m.key,
          value: m.value,
          headers: m.headers,
        }
        const key = m.key?.toString() ?? `${batch.partition}:${offset}`
        deps.metrics?.inFlight.inc({ flow: handler.flow })
        void scheduler.run(key, async () => {
          try {
            if (owned.get(record.partition) !== gen) {
              // Handed over while it waited behind its key: not ours to run any more.
              deps.metrics?.outcomes.inc({ flow: handler.flow, outcome: 'handed-over' })
              return
            }
            const outcome = await runRecord(handler, record, opts, { log, metrics: deps.metrics, signal: abort.signal })
            if (outcome === 'done') tracker.finish(offset)
          } finally {
            deps.metrics?.inFlight.dec({ flow: handler.flow })
          }
        })
      }
      resolveOffset(m.offset)
    }
    await heartbeat()
  }

  await consumer.connect()
  await consumer.subscribe({ topic: opts.topic, fromBeginning: opts.fromBeginning ?? true })
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    partitionsConsumedConcurrently: 64,
    eachBatch,
  })
  commitLoop()

  return {
    consumer,
    async stop(deadlineMs = 15_000) {
      stopping = true
      clearTimeout(commitTimer)
      // Drain: finish what is in flight so its offsets commit; past the deadline, abandon the rest
      // (uncommitted, so the next owner redoes it; claims prevent a second send).
      const deadline = setTimeout(() => abort.abort(), deadlineMs)
      await scheduler.idle()
      clearTimeout(deadline)
      await commit()
      await consumer.disconnect()
    },
  }
}
