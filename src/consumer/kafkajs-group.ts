import type { EachBatchPayload, Kafka } from 'kafkajs'
import { errorMessage } from '../errors.js'
import type { Logger } from '../log.js'
import type { Metrics } from '../metrics.js'
import { createGroupMember, type GroupOptions, type RunningGroup } from './group-member.js'
import type { Liveness } from './liveness.js'
import type { FlowHandler } from './record-runner.js'

/**
 * A consumer group member on kafkajs. Fetching is pipelined: a batch is handed to the key
 * scheduler and its last offset resolved at once, so the next fetch starts while Meta calls are in
 * flight; only the commit waits, for the contiguous prefix of finished offsets. Backpressure:
 * eachBatch waits for capacity, which stops fetching for this member when too much is in flight.
 */
export async function startKafkajsGroup<T>(
  kafka: Kafka,
  handler: FlowHandler<T>,
  opts: GroupOptions,
  deps: { log: Logger; metrics?: Metrics | undefined; liveness?: Liveness | undefined },
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
  const member = createGroupMember(handler, opts, { log, metrics: deps.metrics }, (offsets) =>
    consumer.commitOffsets(
      offsets.map((o) => ({ topic: opts.topic, partition: o.partition, offset: String(o.offset) })),
    ),
  )

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
  // kafkajs has no revoke callback: every join names the whole new assignment.
  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    member.assigned((e.payload.memberAssignment[opts.topic] ?? []).map(Number))
  })

  const eachBatch = async ({
    batch,
    resolveOffset,
    heartbeat,
    isRunning,
    isStale,
  }: EachBatchPayload): Promise<void> => {
    const since = member.ownedSince(batch.partition)
    // A batch fetched before a rebalance took its partition away: the new owner reads it.
    if (since === undefined) return
    for (const m of batch.messages) {
      if (!isRunning() || isStale() || member.stopping || member.ownedSince(batch.partition) !== since) return
      await member.admit(
        {
          topic: batch.topic,
          partition: batch.partition,
          offset: Number(m.offset),
          key: m.key,
          value: m.value,
          headers: m.headers,
        },
        since,
      )
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
  member.startCommits()

  return {
    partitions: member.partitions,
    async stop(deadlineMs = 15_000) {
      await member.drain(deadlineMs)
      await consumer.disconnect()
    },
  }
}
