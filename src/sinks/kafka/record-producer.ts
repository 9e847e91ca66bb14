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

export interface ProducerOptions {
  lingerMs: number
  maxBatch?: number
  metrics?: Metrics | undefined
  /** A record not acknowledged this long after it was handed over fails (GWB_KAFKA_UNAVAILABLE). */
  timeoutMs?: number
  compression?: 'none' | 'gzip'
}

/** What a Kafka client does for the batched producer: write one batch, acks=all, in order per key. */
export interface BatchWriter {
  write: (records: readonly OutRecord[]) => Promise<void>
  close: () => Promise<void>
}

/**
 * A client turns every send into its own produce request. Records of concurrent callers are
 * gathered while the previous request is in flight and go out as one batch, so produce throughput
 * grows with load instead of with round trips; one batch in flight keeps a key's records in order.
 */
export function batchedProducer(writer: BatchWriter, opts: ProducerOptions): RecordProducer {
  const timeoutMs = opts.timeoutMs ?? 5000
  const batcher = createBatcher<OutRecord, void>({
    maxSize: opts.maxBatch ?? 2000,
    maxWaitMs: opts.lingerMs,
    maxInFlight: 1,
    flush: async (records) => {
      const end = opts.metrics?.produceDuration.startTimer()
      opts.metrics?.produceBatchSize.observe(records.length)
      try {
        await withDeadline(writer.write(records), timeoutMs, () => new Error(`not acknowledged within ${timeoutMs} ms`))
      } catch (err) {
        throw new BridgeError('GWB_KAFKA_UNAVAILABLE', `Kafka did not take the records: ${errorMessage(err)}`, {
          canRetry: true,
          cause: err,
        })
      } finally {
        end?.()
      }
      return records.map(() => undefined)
    },
  })

  // The deadline runs from when the caller handed the record over, not from when its batch left:
  // a webhook that queued behind a batch timing out still gets its 503 within timeoutMs.
  const enqueue = (record: OutRecord): Promise<void> => {
    const acked = batcher.add(withTraceContext(record))
    // If the deadline wins, a later failure of the batch has no one left to tell.
    acked.catch(() => undefined)
    return withDeadline(
      acked,
      timeoutMs,
      () =>
        new BridgeError('GWB_KAFKA_UNAVAILABLE', `Kafka did not acknowledge within ${timeoutMs} ms`, {
          canRetry: true,
        }),
    )
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
      await writer.close()
    },
  }
}

function withDeadline<T>(work: Promise<T>, ms: number, error: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(error()), ms)
  })
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer))
}

/** The record with the active trace context in its headers (replacing any it carried). */
function withTraceContext(record: OutRecord): OutRecord {
  const trace = traceHeaders()
  if (Object.keys(trace).length === 0) return record
  return { ...record, headers: { ...record.headers, ...trace } }
}
