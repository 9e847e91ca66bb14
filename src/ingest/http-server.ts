import uWS from 'uWebSockets.js'
import { errorMessage } from '../errors.js'
import type { Logger } from '../log.js'
import type { Metrics } from '../metrics.js'
import { createRateLimiter, defaultRateLimit, sourceKey, type RateLimitConfig, type RateLimiter } from './rate-limit.js'

export interface IncomingRequest {
  readonly method: string
  readonly path: string
  readonly query: URLSearchParams
  /** Only the headers the route asked for, lower-case names. */
  readonly headers: Readonly<Record<string, string>>
  readonly body: Buffer
  /** performance.timeOrigin-based epoch ms at which the request line was read. */
  readonly receivedAtMs: number
}

export interface Reply {
  status: number
  body: string
  contentType?: string
  /** Extra response headers (for example Retry-After). */
  headers?: Readonly<Record<string, string>>
}

/** Per-source limits applied before any route runs. Every field is optional; defaults are generous. */
export interface IngestLimits {
  /** Token bucket per source IP (IPv6: per /64); `false` turns it off. Default 2000/s, burst 4000. */
  rate?: RateLimitConfig | false
  /** A POST body must arrive whole within this many ms of the request line, else 408. Default 30 000. */
  bodyTimeoutMs?: number
}

export const defaultBodyTimeoutMs = 30_000

export interface Route {
  method: 'GET' | 'POST'
  path: string
  /** Bounded label for metrics. */
  name: string
  headers: readonly string[]
  handler: (req: IncomingRequest) => Promise<Reply> | Reply
}

export interface HttpServer {
  readonly port: number
  close: () => void
}

export const json = (status: number, body: unknown): Reply => ({
  status,
  body: JSON.stringify(body),
  contentType: 'application/json',
})
export const jsonError = (status: number, error: string, reason: string): Reply => json(status, { error, reason })

const statusText: Record<number, string> = {
  200: '200 OK',
  400: '400 Bad Request',
  401: '401 Unauthorized',
  403: '403 Forbidden',
  404: '404 Not Found',
  405: '405 Method Not Allowed',
  408: '408 Request Timeout',
  411: '411 Length Required',
  413: '413 Payload Too Large',
  415: '415 Unsupported Media Type',
  429: '429 Too Many Requests',
  500: '500 Internal Server Error',
  503: '503 Service Unavailable',
}

const nowMs = (): number => performance.timeOrigin + performance.now()

function writeReply(res: uWS.HttpResponse, reply: Reply, closeConnection = false): void {
  res.cork(() => {
    res.writeStatus(statusText[reply.status] ?? String(reply.status))
    res.writeHeader('Content-Type', reply.contentType ?? 'text/plain')
    for (const [name, value] of Object.entries(reply.headers ?? {})) res.writeHeader(name, value)
    res.end(reply.body, closeConnection)
  })
}

/** The peer's address, read synchronously (uWS frees it after the handler returns). */
function remoteSource(res: uWS.HttpResponse): string {
  return sourceKey(Buffer.from(res.getRemoteAddressAsText()).toString('latin1'))
}

/**
 * uWebSockets.js rules that matter here: headers and query must be read synchronously inside the
 * handler (req is stack-allocated), onAborted must be set before any await, a response after an
 * abort is forbidden, and writes after an await are corked into one syscall.
 */
export function startHttpServer(opts: {
  host: string
  port: number
  maxBodyBytes: number
  routes: readonly Route[]
  log: Logger
  metrics?: Metrics
  /** Per-source rate limit and body deadline; omitted fields take the defaults. */
  limits?: IngestLimits
}): Promise<HttpServer> {
  const app = uWS.App()
  const rateConfig = opts.limits?.rate ?? defaultRateLimit
  const limiter: RateLimiter | undefined = rateConfig === false ? undefined : createRateLimiter(rateConfig)
  const bodyTimeoutMs = opts.limits?.bodyTimeoutMs ?? defaultBodyTimeoutMs
  /** True when the request may go on; otherwise a 429 has been sent. Counts every request, routed or not. */
  const admit = (res: uWS.HttpResponse, routeName: string): boolean => {
    if (limiter === undefined) return true
    const taken = limiter.take(remoteSource(res), performance.now())
    if (taken.ok) return true
    opts.metrics?.httpRequests.inc({ route: routeName, status: 429 })
    writeReply(res, {
      ...jsonError(429, 'rate_limited', `too many requests from this source; retry in ${taken.retryAfterSec} s`),
      headers: { 'Retry-After': String(taken.retryAfterSec) },
    })
    return false
  }
  const byPath = new Map<string, Route[]>()
  for (const r of opts.routes) byPath.set(r.path, [...(byPath.get(r.path) ?? []), r])

  for (const [path, routes] of byPath) {
    app.any(path, (res, req) => {
      const method = req.getCaseSensitiveMethod().toUpperCase()
      const route = routes.find((r) => r.method === method)
      if (!admit(res, route?.name ?? path)) return
      if (route === undefined) {
        const allow = routes.map((r) => r.method).join(', ')
        res.cork(() => {
          res.writeStatus(statusText[405] as string).writeHeader('Allow', allow)
          res.writeHeader('Content-Type', 'application/json')
          res.end(JSON.stringify({ error: 'method_not_allowed', reason: `use ${allow} on ${path}` }))
        })
        opts.metrics?.httpRequests.inc({ route: path, status: 405 })
        return
      }
      serve(res, req, route, { ...opts, bodyTimeoutMs })
    })
  }
  app.any('/*', (res, req) => {
    if (!admit(res, 'not_found')) return
    const path = req.getUrl()
    res.cork(() => {
      res.writeStatus(statusText[404] as string).writeHeader('Content-Type', 'application/json')
      res.end(JSON.stringify({ error: 'not_found', reason: `no route ${path}` }))
    })
  })

  return new Promise((resolve, reject) => {
    app.listen(opts.host, opts.port, (token) => {
      if (token === false) {
        reject(new Error(`cannot listen on ${opts.host}:${opts.port}`))
        return
      }
      resolve({ port: uWS.us_socket_local_port(token), close: () => uWS.us_listen_socket_close(token) })
    })
  })
}

function serve(
  res: uWS.HttpResponse,
  req: uWS.HttpRequest,
  route: Route,
  opts: { maxBodyBytes: number; bodyTimeoutMs: number; log: Logger; metrics?: Metrics },
): void {
  const receivedAtMs = nowMs()
  const endTimer = opts.metrics?.httpDuration.startTimer({ route: route.name })
  let aborted = false
  const timer: { deadline?: NodeJS.Timeout } = {}
  res.onAborted(() => {
    aborted = true
    clearTimeout(timer.deadline)
  })
  const headers: Record<string, string> = {}
  for (const h of route.headers) headers[h] = req.getHeader(h)
  const query = new URLSearchParams(req.getQuery() ?? '')
  const path = req.getUrl()
  const declared = req.getHeader('content-length')

  let sent = false
  /** `closeConnection` when the body was not read to its end: the socket cannot be reused. */
  const send = (reply: Reply, closeConnection = false): void => {
    if (sent) return
    sent = true
    clearTimeout(timer.deadline)
    endTimer?.()
    opts.metrics?.httpRequests.inc({ route: route.name, status: reply.status })
    if (aborted) return
    writeReply(res, reply, closeConnection)
  }
  const run = (body: Buffer): void => {
    const request: IncomingRequest = { method: route.method, path, query, headers, body, receivedAtMs }
    Promise.resolve()
      .then(() => route.handler(request))
      .then(send, (err: unknown) => {
        opts.log.error({ err: errorMessage(err), route: route.name }, 'handler failed')
        send(jsonError(500, 'internal_error', 'the request could not be handled; retry later'))
      })
  }

  if (route.method === 'GET') {
    run(Buffer.alloc(0))
    return
  }
  if (declared !== '' && Number(declared) > opts.maxBodyBytes) {
    // Refuse before reading: a declared oversize body never costs us memory.
    send(jsonError(413, 'body_too_large', `body exceeds ${opts.maxBodyBytes} bytes`), true)
    return
  }
  const chunks: Buffer[] = []
  let size = 0
  let refused = false
  // A sender trickling its body holds a connection and a buffer: it gets a deadline, then a 408.
  timer.deadline = setTimeout(() => {
    refused = true
    chunks.length = 0
    send(jsonError(408, 'body_timeout', `the body did not arrive within ${opts.bodyTimeoutMs} ms`), true)
  }, opts.bodyTimeoutMs)
  res.onData((chunk, isLast) => {
    if (refused) return
    size += chunk.byteLength
    if (size > opts.maxBodyBytes) {
      refused = true
      chunks.length = 0
      send(jsonError(413, 'body_too_large', `body exceeds ${opts.maxBodyBytes} bytes`), true)
      return
    }
    // uWS reuses the chunk's memory after this callback returns: copy it.
    chunks.push(Buffer.from(new Uint8Array(chunk)))
    if (!isLast) return
    clearTimeout(timer.deadline)
    run(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size))
  })
}
