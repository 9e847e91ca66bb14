import { CompressionTypes, Partitioners, type Kafka, type Message, type Producer, type RecordMetadata } from 'kafkajs'
import { createBatcher } from '../../batcher.js'
import { BridgeError, errorMessage } from '../../errors.js'
import type { Metrics } from '../../metrics.js'
import { inSpan, SpanKind } from '../../tracing/spans.js'
import { traceHeaders } from './trace-headers.js'

export interface OutRecord {
  topic: string
  key: string | null
  value: Buffer
  headers?: Record<string, string>
}

export interface RecordProducer {
  /** Resolves once Kafka has acknowledged the record on all in-sync replicas. */
  send: (record: OutRecord) => Promise<void>
  sendAll: (records: OutRecord[]) => Promise<void>
  close: () => Promise<void>
}

/** Rounds of sendBatch for records kafkajs left unwritten (see unwritten()) before giving up. */
const WRITE_ROUNDS = 5

/**
 * kafkajs turns every send() into its own produce request. Records of concurrent callers are
 * gathered while the previous request is in flight and go out as one sendBatch, so produce
 * throughput grows with load instead of with round trips. Idempotent producer, acks=all.
 *
 * A sendBatch can resolve without writing some of its records (kafkajs 2.2.4, its issue #1303):
 * its retry after a failed broker re-sends only to brokers that have not answered yet, so
 * partitions whose leadership moved to a broker that already answered for other partitions are
 * dropped. Every record is therefore checked against the partitions the answer names, and the
 * ones left out are sent again; a record is acknowledged only once its partition's write is.
 */
export async function createRecordProducer(
  kafka: Kafka,
  opts: { lingerMs: number; maxBatch?: number; metrics?: Metrics; timeoutMs?: number; compression?: 'none' | 'gzip' },
): Promise<RecordProducer> {
  // The partition kafkajs picked for each message (of the latest attempt), to check the answer.
  const partitionOf = new WeakMap<Message, number>()
  const producer: Producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    // murmur2 like the Java client, so every producer of a topic (ingest, CLI replay, other tools) maps a key to the same partition.
    createPartitioner: () => {
      const pick = Partitioners.DefaultPartitioner()
      return (args) => {
        const partition = pick(args)
        partitionOf.set(args.message, partition)
        return partition
      }
    },
  })
  await producer.connect()
  const timeoutMs = opts.timeoutMs ?? 5000

  const batcher = createBatcher<OutRecord, void>({
    maxSize: opts.maxBatch ?? 2000,
    maxWaitMs: opts.lingerMs,
    maxInFlight: 1,
    flush: async (records) => {
      const compression = opts.compression === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None
      const write = async (): Promise<void> => {
        let left = records.map((r) => ({ topic: r.topic, message: toMessage(r) }))
        for (let round = 1; left.length > 0; round++) {
          if (round > WRITE_ROUNDS) {
            throw new Error(`${left.length} records still unwritten after ${WRITE_ROUNDS} produce rounds`)
          }
          const written = await producer.sendBatch({ acks: -1, compression, topicMessages: byTopic(left) })
          left = unwritten(left, written, (m) => partitionOf.get(m))
          opts.metrics?.produceResent.inc(left.length)
        }
      }
      const end = opts.metrics?.produceDuration.startTimer()
      opts.metrics?.produceBatchSize.observe(records.length)
      let timer: NodeJS.Timeout | undefined
      try {
        await Promise.race([
          write(),
          new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error(`not acknowledged within ${timeoutMs} ms`)), timeoutMs)
          }),
        ])
      } catch (err) {
        throw new BridgeError('GWB_KAFKA_UNAVAILABLE', `Kafka did not take the records: ${errorMessage(err)}`, {
          canRetry: true,
          cause: err,
        })
      } finally {
        clearTimeout(timer)
        end?.()
      }
      return records.map(() => undefined)
    },
  })

  // The deadline runs from when the caller handed the record over, not from when its batch left:
  // a webhook that queued behind a batch timing out still gets its 503 within timeoutMs.
  const enqueue = (record: OutRecord): Promise<void> => {
    const acked = batcher.add(withTraceContext(record))
    let timer: NodeJS.Timeout | undefined
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new BridgeError('GWB_KAFKA_UNAVAILABLE', `Kafka did not acknowledge within ${timeoutMs} ms`, {
              canRetry: true,
            }),
          ),
        timeoutMs,
      )
    })
    // If the deadline wins, a later failure of the batch has no one left to tell.
    acked.catch(() => undefined)
    return Promise.race([acked, deadline]).finally(() => clearTimeout(timer))
  }

  // One span per record from hand-over to acknowledgement; its context goes into the headers, so
  // the consumer's span is its child.
  const add = (record: OutRecord): Promise<void> =>
    inSpan(
      `${record.topic} publish`,
      {
        kind: SpanKind.PRODUCER,
        attributes: { 'messaging.system': 'kafka', 'messaging.destination.name': record.topic },
      },
      () => enqueue(record),
    )

  return {
    send: add,
    sendAll: async (records) => {
      await Promise.all(records.map(add))
    },
    close: async () => {
      await batcher.drain()
      await producer.disconnect()
    },
  }
}

interface Pending {
  topic: string
  message: Message
}

function toMessage(r: OutRecord): Message {
  return r.headers === undefined ? { key: r.key, value: r.value } : { key: r.key, value: r.value, headers: r.headers }
}

function byTopic(pending: readonly Pending[]): { topic: string; messages: Message[] }[] {
  const topics = new Map<string, Message[]>()
  for (const { topic, message } of pending) {
    let list = topics.get(topic)
    if (list === undefined) topics.set(topic, (list = []))
    list.push(message)
  }
  return [...topics].map(([topic, messages]) => ({ topic, messages }))
}

/**
 * The records whose partition the sendBatch answer does not name as written (error code 0): kafkajs
 * never sent them. In order, so a record re-sent keeps its place behind the earlier ones of its key.
 */
function unwritten(
  sent: readonly Pending[],
  answer: readonly RecordMetadata[],
  partitionOf: (m: Message) => number | undefined,
): Pending[] {
  const ok = new Set(answer.filter((a) => a.errorCode === 0).map((a) => `${a.topicName}\n${a.partition}`))
  return sent.filter(({ topic, message }) => {
    const partition = partitionOf(message)
    return partition === undefined || !ok.has(`${topic}\n${partition}`)
  })
}

/** The record with the active trace context in its headers (replacing any it carried). */
function withTraceContext(record: OutRecord): OutRecord {
  const trace = traceHeaders()
  if (Object.keys(trace).length === 0) return record
  return { ...record, headers: { ...record.headers, ...trace } }
}
