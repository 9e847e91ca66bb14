import { randomUUID } from 'node:crypto'
import type { Consumer, Kafka } from 'kafkajs'
import { fetchTopicOffsets } from '../sinks/kafka/offsets.js'

/** Offsets [start, end) of one partition; `end` is a snapshot taken before reading starts. */
export interface PartitionRange {
  partition: number
  start: number
  end: number
}

export interface ScannedRecord {
  partition: number
  offset: number
  timestamp: number
  key: Buffer | null
  value: Buffer | null
  headers: Record<string, string>
}

export interface ScanOptions {
  topic: string
  ranges: readonly PartitionRange[]
  /** Called once per record in range, in offset order per partition, awaited. */
  onRecord: (r: ScannedRecord) => Promise<void>
  /** Defaults to a throwaway group; its offsets are never committed and it is deleted afterwards. */
  groupId?: string
  /** KAFKA_GROUP_PREFIX: the throwaway group is named under it, so prefix ACLs allow it. */
  groupPrefix: string
  /** Give up when nothing arrives for this long (a gap at the end of a range, e.g. a control record). */
  idleMs?: number
  /** Runs while the consumer is still a group member, e.g. to commit offsets with metadata. */
  beforeStop?: (consumer: Consumer) => Promise<void>
}

export interface ScanResult {
  /** Partitions whose range was not read to its end (idle timeout). */
  incomplete: number[]
}

/** Current low and high watermarks of every partition of a topic. */
export async function topicOffsets(
  kafka: Kafka,
  topic: string,
): Promise<{ partition: number; low: number; high: number }[]> {
  const admin = kafka.admin()
  await admin.connect()
  try {
    const offsets = await fetchTopicOffsets(admin, topic)
    return offsets
      .map((o) => ({ partition: o.partition, low: Number(o.low), high: Number(o.high) }))
      .sort((a, b) => a.partition - b.partition)
  } finally {
    await admin.disconnect()
  }
}

/** Per partition, the first offset whose timestamp is at or after `at` (the high watermark if none). */
export async function offsetsAt(kafka: Kafka, topic: string, at: Date): Promise<Map<number, number>> {
  const admin = kafka.admin()
  await admin.connect()
  try {
    const offsets = await admin.fetchTopicOffsetsByTimestamp(topic, at.getTime())
    return new Map(offsets.map((o) => [o.partition, Number(o.offset)]))
  } finally {
    await admin.disconnect()
  }
}

/**
 * Reads exactly the given offset ranges of a topic: a consumer with autoCommit off, an explicit
 * seek per partition, stopping when every range reached its snapshotted end. Records produced
 * after the snapshot (a replay writing to the same topic) are beyond `end` and never read.
 */
export async function scanRanges(kafka: Kafka, opts: ScanOptions): Promise<ScanResult> {
  const active = opts.ranges.filter((r) => r.start < r.end)
  if (active.length === 0) return { incomplete: [] }
  const throwaway = opts.groupId === undefined
  const groupId = opts.groupId ?? `${opts.groupPrefix}cli-scan-${randomUUID()}`
  const consumer = kafka.consumer({ groupId, allowAutoTopicCreation: false, maxWaitTimeInMs: 250 })
  const byPartition = new Map(active.map((r) => [r.partition, r]))
  const pending = new Set(active.map((r) => r.partition))
  const idleMs = opts.idleMs ?? 30_000
  let finish: () => void = () => undefined
  let fail: (err: unknown) => void = () => undefined
  const done = new Promise<void>((resolve, reject) => {
    finish = resolve
    fail = reject
  })
  // Observed by the await below; this only keeps an early failure from counting as unhandled.
  done.catch(() => undefined)
  let idle: NodeJS.Timeout | undefined
  let timedOut = false
  const touch = (): void => {
    clearTimeout(idle)
    idle = setTimeout(() => {
      timedOut = true
      finish()
    }, idleMs)
  }
  const complete = (partition: number): void => {
    if (!pending.delete(partition)) return
    consumer.pause([{ topic: opts.topic, partitions: [partition] }])
    if (pending.size === 0) finish()
  }

  try {
    await consumer.connect()
    await consumer.subscribe({ topic: opts.topic, fromBeginning: true })
    touch()
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: true,
      eachBatch: async ({ batch, heartbeat }) => {
        const range = byPartition.get(batch.partition)
        if (range === undefined || !pending.has(batch.partition)) return
        touch()
        for (const m of batch.messages) {
          const offset = Number(m.offset)
          if (offset < range.start) continue
          if (offset >= range.end) break
          const headers: Record<string, string> = {}
          for (const [k, v] of Object.entries(m.headers ?? {})) if (v !== undefined) headers[k] = String(v)
          try {
            await opts.onRecord({
              partition: batch.partition,
              offset,
              timestamp: Number(m.timestamp),
              key: m.key,
              value: m.value,
              headers,
            })
          } catch (err) {
            fail(err)
            return
          }
          if (offset + 1 >= range.end) break
        }
        const last = Number(batch.lastOffset())
        if (last + 1 >= range.end) complete(batch.partition)
        await heartbeat()
      },
    })
    const idlePartitions = (await topicPartitions(kafka, opts.topic)).filter((p) => !byPartition.has(p))
    if (idlePartitions.length > 0) consumer.pause([{ topic: opts.topic, partitions: idlePartitions }])
    for (const r of active) consumer.seek({ topic: opts.topic, partition: r.partition, offset: String(r.start) })
    await done
    if (opts.beforeStop !== undefined) await opts.beforeStop(consumer)
  } finally {
    clearTimeout(idle)
    await consumer.disconnect().catch(() => undefined)
    if (throwaway) await deleteGroup(kafka, groupId)
  }
  return { incomplete: timedOut ? [...pending] : [] }
}

async function topicPartitions(kafka: Kafka, topic: string): Promise<number[]> {
  return (await topicOffsets(kafka, topic)).map((o) => o.partition)
}

async function deleteGroup(kafka: Kafka, groupId: string): Promise<void> {
  const admin = kafka.admin()
  try {
    await admin.connect()
    await admin.deleteGroups([groupId])
  } catch {
    // A leftover empty group without offsets is harmless; the broker expires it.
  } finally {
    await admin.disconnect().catch(() => undefined)
  }
}
