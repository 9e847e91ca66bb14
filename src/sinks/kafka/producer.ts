import { CompressionTypes, Partitioners, type Kafka, type Producer } from 'kafkajs'
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

/**
 * kafkajs turns every send() into its own produce request. Records of concurrent callers are
 * gathered while the previous request is in flight and go out as one sendBatch, so produce
 * throughput grows with load instead of with round trips. Idempotent producer, acks=all.
 */
export async function createRecordProducer(
  kafka: Kafka,
  opts: { lingerMs: number; maxBatch?: number; metrics?: Metrics; timeoutMs?: number; compression?: 'none' | 'gzip' },
): Promise<RecordProducer> {
  const producer: Producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    // murmur2 like the Java client, so every producer of a topic (ingest, CLI replay, other tools) maps a key to the same partition.
    createPartitioner: Partitioners.DefaultPartitioner,
  })
  await producer.connect()
  const timeoutMs = opts.timeoutMs ?? 5000

  const batcher = createBatcher<OutRecord, void>({
    maxSize: opts.maxBatch ?? 2000,
    maxWaitMs: opts.lingerMs,
    maxInFlight: 1,
    flush: async (records) => {
      const byTopic = new Map<string, { key: string | null; value: Buffer; headers?: Record<string, string> }[]>()
      for (const r of records) {
        let list = byTopic.get(r.topic)
        if (list === undefined) byTopic.set(r.topic, (list = []))
        list.push(r.headers === undefined ? { key: r.key, value: r.value } : r)
      }
      const end = opts.metrics?.produceDuration.startTimer()
      opts.metrics?.produceBatchSize.observe(records.length)
      let timer: NodeJS.Timeout | undefined
      try {
        await Promise.race([
          producer.sendBatch({
            acks: -1,
            compression: opts.compression === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None,
            topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
          }),
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

/** The record with the active trace context in its headers (replacing any it carried). */
function withTraceContext(record: OutRecord): OutRecord {
  const trace = traceHeaders()
  if (Object.keys(trace).length === 0) return record
  return { ...record, headers: { ...record.headers, ...trace } }
}
