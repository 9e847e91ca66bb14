import {
  context,
  INVALID_SPAN_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Span,
} from '@opentelemetry/api'
import { isBridgeError } from '../errors.js'

/**
 * Span helpers over the OpenTelemetry API. Without a registered SDK (no OTEL_EXPORTER_OTLP_ENDPOINT)
 * the API's tracer is a no-op: a span costs an object and nothing is recorded or sent.
 */

export { SpanKind }

const tracer = (): ReturnType<typeof trace.getTracer> => trace.getTracer('genesys-whatsapp-bridge')

// Until a tracer is registered (app/tracing.ts) the helpers call straight through: even the API's
// no-op spans cost a context switch and a promise per call (about 0.8 µs), some ten per message.
let recording = false
const noSpan = trace.wrapSpanContext(INVALID_SPAN_CONTEXT)

/** Set by the tracing setup when it registers a tracer, and cleared at its shutdown. */
export function setRecording(on: boolean): void {
  recording = on
}

/** How a failure shows on a span: the stable error code only, never a message that could hold data. */
function markFailed(span: Span, err: unknown): void {
  const code = isBridgeError(err) ? err.code : err instanceof Error ? err.name : 'unknown'
  span.setAttribute('error.type', code)
  span.setStatus({ code: SpanStatusCode.ERROR, message: code })
}

export interface SpanOptions {
  kind?: SpanKind
  attributes?: Attributes
  /** The parent; by default the active context (the span of the step or request calling). */
  parent?: Context
  /** Epoch ms when the work began, if before the span is opened (a request whose body was read). */
  startTime?: number
}

/**
 * Runs `fn` in a new span, active for everything `fn` awaits, and ends the span when `fn` settles.
 * A rejection is marked on the span and handed on unchanged: deciding about it is the caller's job.
 */
export function inSpan<T>(name: string, opts: SpanOptions, fn: (span: Span) => Promise<T>): Promise<T> {
  if (!recording) return fn(noSpan)
  const parent = opts.parent ?? context.active()
  const span = tracer().startSpan(
    name,
    { kind: opts.kind ?? SpanKind.INTERNAL, attributes: opts.attributes, startTime: opts.startTime },
    parent,
  )
  const running = context.with(trace.setSpan(parent, span), () => new Promise<T>((resolve) => resolve(fn(span))))
  running.then(
    () => span.end(),
    (err: unknown) => {
      markFailed(span, err)
      span.end()
    },
  )
  return running
}

/** A step's answer on its span: a non-ok outcome kind and its error code (not its message). */
export function markOutcome(span: Span, kind: string, code?: string): void {
  span.setAttribute('gwb.outcome', kind)
  if (code !== undefined) span.setAttribute('gwb.error.code', code)
  if (kind === 'retry' || kind === 'dead-letter' || kind === 'fail') {
    span.setStatus({ code: SpanStatusCode.ERROR, message: code ?? kind })
  }
}

/** Client spans: an HTTP status of 400 and above is an error (OpenTelemetry's HTTP conventions). */
export function markHttpStatus(span: Span, status: number | undefined): void {
  if (status === undefined || status === 0) return
  span.setAttribute('http.response.status_code', status)
  if (status >= 400) span.setStatus({ code: SpanStatusCode.ERROR, message: String(status) })
}

/**
 * The ids worth searching traces by, from a decoded record: tenant, message id, wamid. Only these
 * named string fields are read, so no body, phone number or credential becomes an attribute.
 */
export function idAttributes(decoded: unknown): Attributes {
  if (typeof decoded !== 'object' || decoded === null) return {}
  const attrs: Attributes = {}
  const pick = (field: string, attribute: string): void => {
    const v = (decoded as Record<string, unknown>)[field]
    if (typeof v === 'string' && v !== '') attrs[attribute] = v
  }
  pick('tenantId', 'gwb.tenant_id')
  pick('messageId', 'gwb.message_id')
  pick('wamid', 'gwb.wamid')
  return attrs
}

/** Adds the ids to the active span (the step that has just learned them). */
export function annotateActive(attrs: Attributes): void {
  trace.getActiveSpan()?.setAttributes(attrs)
}
