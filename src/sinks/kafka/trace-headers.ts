import { context, propagation, ROOT_CONTEXT, type Context, type TextMapGetter } from '@opentelemetry/api'
import type { IHeaders } from 'kafkajs'

/**
 * W3C trace context in Kafka record headers (`traceparent`, `tracestate`): written where a record
 * is produced, read where it is consumed, so one message's trace continues across processes.
 */

const getter: TextMapGetter<IHeaders> = {
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
 * consumer's own async context, which belongs to whatever record kafkajs handled before).
 */
export function traceContextOf(headers: IHeaders | undefined): Context {
  return headers === undefined ? ROOT_CONTEXT : propagation.extract(ROOT_CONTEXT, headers, getter)
}
