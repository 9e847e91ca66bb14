import {
  Consumer,
  MessagesStreamFallbackModes,
  MessagesStreamModes,
  type BaseOptions,
  type ConsumerGroupJoinPayload,
  type Message,
  type MessagesStream,
} from '@platformatic/kafka'
import { errorMessage } from '../errors.js'
import type { Logger } from '../log.js'
import type { Metrics } from '../metrics.js'
import { Retrier } from '../retry.js'
import { createGroupMember, type GroupOptions, type RunningGroup } from './group-member.js'
import type { FlowHandler, RecordMeta } from './record-runner.js'

/** Delays between attempts to consume again after the message stream failed (broker away, rejoin failed). */
const RESTART = { baseMs: 200, maxMs: 5000, maxDurationMs: Infinity }

/**
 * A consumer group member on @platformatic/kafka. Its client delivers one stream of records across
 * the assigned partitions; reading the stream waits while the member is at capacity, which stops the
 * stream's fetches once its buffer is full (backpressure). Offsets are committed by the member (the
 * contiguous finished prefix), never by the library. A failed stream (its own retries exhausted) is
 * opened again from the committed offsets; records this member already started are skipped.
 */
export async function startPlatformaticGroup<T>(
  options: BaseOptions,
  handler: FlowHandler<T>,
  opts: GroupOptions,
  deps: { log: Logger; metrics?: Metrics | undefined },
): Promise<RunningGroup> {
  const log = deps.log.child({ flow: handler.flow, group: opts.groupId })
  const consumer = new Consumer({
    ...options,
    groupId: opts.groupId,
    autocommit: false,
    // A killed member holds its partitions until the session times out: keep that pause short.
    sessionTimeout: 10_000,
    heartbeatInterval: 3000,
  })
  // The leader epoch of the latest record per partition: a commit carries it (KIP-320).
  const epochs = new Map<number, number>()
  const member = createGroupMember(handler, opts, { log, metrics: deps.metrics }, (offsets) =>
    consumer.commit({
      offsets: offsets.map((o) => ({
        topic: opts.topic,
        partition: o.partition,
        offset: BigInt(o.offset),
        leaderEpoch: epochs.get(o.partition) ?? -1,
      })),
    }),
  )
  // The group generation each of the member's assignments was made in: a record fetched in an
  // earlier generation than its partition's assignment belongs to an earlier ownership.
  const generationOf = new Map<number, number>()
  consumer.on('consumer:group:join', (e: ConsumerGroupJoinPayload) => {
    const mine = (e.assignments ?? []).filter((a) => a.topic === opts.topic).flatMap((a) => a.partitions)
    generationOf.set(member.assigned(mine), e.generationId ?? 0)
  })
  let stream: MessagesStream<Buffer, Buffer, Buffer, Buffer> | undefined
  // A failed rejoin is reported here; the stream it leaves behind is replaced.
  consumer.on('error', (err: Error) => {
    log.warn({ err: errorMessage(err) }, 'consumer group error; consuming again')
    stream?.destroy(err)
  })

  const admitAll = async (s: MessagesStream<Buffer, Buffer, Buffer, Buffer>): Promise<number> => {
    let n = 0
    for await (const m of s) {
      if (member.stopping) break
      n++
      epochs.set(m.partition, m.leaderEpoch)
      const since = member.ownedSince(m.partition)
      if (since === undefined || fetchGeneration(m) < (generationOf.get(since) ?? 0)) continue
      await member.admit(toRecordMeta(m), since)
    }
    return n
  }

  const openStream = async (): Promise<MessagesStream<Buffer, Buffer, Buffer, Buffer>> =>
    (stream = await consumer.consume({
      topics: [opts.topic],
      mode: MessagesStreamModes.COMMITTED,
      fallbackMode:
        (opts.fromBeginning ?? true) ? MessagesStreamFallbackModes.EARLIEST : MessagesStreamFallbackModes.LATEST,
      minBytes: opts.fetchMinBytes ?? 1,
      maxWaitTime: opts.fetchMaxWaitMs ?? 50,
      maxBytesPerPartition: opts.fetchBytesPerPartition ?? 256 * 1024,
    }))

  const stopped = new AbortController()
  const run = async (first: MessagesStream<Buffer, Buffer, Buffer, Buffer>): Promise<void> => {
    let s: MessagesStream<Buffer, Buffer, Buffer, Buffer> | undefined = first
    let restarts = new Retrier(RESTART, { signal: stopped.signal })
    while (!member.stopping) {
      try {
        if (s === undefined) {
          // A rejoin that failed stops the library's heartbeats and leaves this member outside the
          // group with its old assignment: join again before a new stream fetches that assignment.
          if (!consumer.isActive()) await consumer.joinGroup({})
          s = await openStream()
        }
        if ((await admitAll(s)) > 0) restarts = new Retrier(RESTART, { signal: stopped.signal })
      } catch (err) {
        if (member.stopping) return
        log.warn({ err: errorMessage(err) }, 'consumer stream failed; consuming again from the committed offsets')
      }
      s = undefined
      if (member.stopping || (await restarts.wait()) !== 'again') return
    }
  }

  // Joined here, so a start fails while the group cannot be joined at all.
  const first = await openStream().catch(async (err: unknown) => {
    await consumer.close(true).catch(() => undefined)
    throw err
  })
  const running = run(first)
  member.startCommits()
  return {
    partitions: member.partitions,
    async stop(deadlineMs = 15_000) {
      await member.drain(deadlineMs)
      stopped.abort()
      await stream?.close()
      await running
      await consumer.close(true)
    },
  }
}

/** The group generation the record was fetched in (the library puts it in the record's metadata); unknown: current. */
function fetchGeneration(m: Message): number {
  const c = m.metadata['consumer']
  if (typeof c === 'object' && c !== null && 'generationId' in c && typeof c.generationId === 'number') {
    return c.generationId
  }
  return Number.MAX_SAFE_INTEGER
}

function toRecordMeta(m: Message): RecordMeta {
  let headers: Record<string, Buffer> | undefined
  for (const [k, v] of m.headerEntries) (headers ??= {})[k.toString()] = v
  return {
    topic: m.topic,
    partition: m.partition,
    offset: Number(m.offset),
    key: m.key ?? null,
    value: m.value ?? null,
    ...(headers === undefined ? {} : { headers }),
  }
}
