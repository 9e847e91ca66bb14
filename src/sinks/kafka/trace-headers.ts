import { context, propagation, ROOT_CONTEXT, type Context, type TextMapGetter } from '@opentelemetry/api'

/**
 * W3C trace context in Kafka record headers (`traceparent`, `tracestate`): written where a record
 * is produced, read where it is consumed, so one message's trace continues across processes.
 */

/** A consumed record's headers, as either Kafka client gives them (kafkajs's IHeaders is one). */
export type RecordHeaders = Readonly<Record<string, Buffer | string | readonly (Buffer | string)[] | undefined>>

const getter: TextMapGetter<RecordHeaders> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => {
    const v = carrier[key]
    const first = Array.isArray(v) ? v[0] : v
    return first === undefined ? undefined : first.toString()
  },
}

/** The headers carrying `ctx` (by default the active span); empty when tracing has nothing to carry. */
export function traceHeaders(ctx: Context = context.active()): Record<string, string> {
  const carrier: Record<string, string> = {}
  propagation.inject(ctx, carrier)
  return carrier
}

/**
 * The context a consumed record's headers carry; the root context when they carry none (never the
 * consumer's own async context, which belongs to whatever record the client handled before).
 */
export function traceContextOf(headers: RecordHeaders | undefined): Context {
  return headers === undefined ? ROOT_CONTEXT : propagation.extract(ROOT_CONTEXT, headers, getter)
}

/** Runs `fn` with the trace a record's headers carry as the active context (a re-drive continues it). */
export function inTraceOf<T>(headers: RecordHeaders | undefined, fn: () => Promise<T>): Promise<T> {
  return context.with(traceContextOf(headers), fn)
}

/**
 * The trace headers of a record, to copy onto one produced from it: they stay when this process
 * traces nothing (the CLI without OTEL_EXPORTER_OTLP_ENDPOINT), else the producer writes a child's.
 */
export function carriedTraceHeaders(headers: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {}
  for (const k of ['traceparent', 'tracestate']) {
    const v = headers[k]
    if (v !== undefined) out[k] = v
  }
  return out
}
