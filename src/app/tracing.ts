import { context, propagation, trace } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import { W3CTraceContextPropagator } from '@opentelemetry/core'
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http'
import { resourceFromAttributes } from '@opentelemetry/resources'
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base'
import type { TracingConfig } from '../config/config.js'
import { setRecording } from '../tracing/spans.js'

export interface Tracing {
  /** Exports what is buffered and unregisters the tracer (spans after it are no-ops). */
  shutdown: () => Promise<void>
}

/**
 * Registers the process's tracer: W3C trace context, an async-context manager, and spans exported
 * over OTLP/HTTP. Without OTEL_EXPORTER_OTLP_ENDPOINT nothing is registered: the API's no-op tracer
 * answers every span and no async context is tracked, so tracing costs next to nothing (and this
 * process passes no trace context on). `processor` replaces the exporter (tests: in-memory spans).
 */
export function startTracing(config: TracingConfig, opts: { processor?: SpanProcessor } = {}): Tracing {
  const processor =
    opts.processor ??
    (config.endpoint === undefined
      ? undefined
      : new BatchSpanProcessor(
          new OTLPTraceExporter({ url: `${config.endpoint}/v1/traces`, headers: { ...config.headers } }),
        ))
  if (processor === undefined) return { shutdown: async () => undefined }

  const contextManager = new AsyncLocalStorageContextManager().enable()
  context.setGlobalContextManager(contextManager)
  propagation.setGlobalPropagator(new W3CTraceContextPropagator())
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': config.serviceName }),
    // A record consumed follows the decision made where its trace began (the ingest request).
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(config.sampleRatio) }),
    spanProcessors: [processor],
  })
  trace.setGlobalTracerProvider(provider)
  setRecording(true)
  return {
    shutdown: async () => {
      setRecording(false)
      await provider.shutdown()
      trace.disable()
      propagation.disable()
      context.disable()
    },
  }
}
