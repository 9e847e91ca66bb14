import { ROOT_CONTEXT, SpanStatusCode } from '@opentelemetry/api'
import { inSpan, SpanKind } from '../tracing/spans.js'
import type { Route } from './routes.js'

/**
 * The route's handler inside a server span named by its method and path template (bounded, no ids).
 * A webhook's own `traceparent` is not followed: the sender is outside the bridge and untrusted,
 * so every request starts a trace of its own (see docs/operations.md, Tracing).
 */
export function traceRoute(route: Route): Route {
  const name = `${route.method} ${route.path}`
  return {
    ...route,
    handler: (req) =>
      inSpan(
        name,
        {
          kind: SpanKind.SERVER,
          parent: ROOT_CONTEXT,
          startTime: req.receivedAtMs,
          attributes: { 'http.request.method': route.method, 'http.route': route.path },
        },
        async (span) => {
          const reply = await route.handler(req)
          span.setAttribute('http.response.status_code', reply.status)
          // A server span is in error on 5xx only: a 4xx is the client's mistake, answered as designed.
          if (reply.status >= 500) span.setStatus({ code: SpanStatusCode.ERROR, message: String(reply.status) })
          return reply
        },
      ),
  }
}
