import { traceContextOf } from '../sinks/kafka/trace-headers.js'
import { inSpan, SpanKind } from '../tracing/spans.js'
import type { RecordMeta } from './record-runner.js'

/**
 * One consumer span per record, child of the producer's span its headers name (W3C traceparent),
 * so the trace begun at the webhook continues here; the runner's steps are spans inside it.
 */
export function inRecordSpan<R extends string>(flow: string, record: RecordMeta, run: () => Promise<R>): Promise<R> {
  const attributes = {
    'messaging.system': 'kafka',
    'messaging.destination.name': record.topic,
    'messaging.destination.partition.id': String(record.partition),
    'messaging.kafka.offset': record.offset,
    'gwb.flow': flow,
  }
  return inSpan(
    `${record.topic} process`,
    { kind: SpanKind.CONSUMER, parent: traceContextOf(record.headers), attributes },
    async (span) => {
      const outcome = await run()
      span.setAttribute('gwb.run', outcome)
      return outcome
    },
  )
}
