import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { errorMessage } from '../errors.js'
import type { Logger } from '../log.js'
import type { Metrics } from '../metrics.js'
import type { TrustedProxies } from './client-address.js'
import { createRateLimiter, defaultRateLimit, sourceKey, type RateLimitConfig, type RateLimiter } from './rate-limit.js'
import { jsonError, matchRoute, type IncomingRequest, type Reply, type Route, type RouteMatch } from './routes.js'

export { json, jsonError, type IncomingRequest, type Reply, type Route } from './routes.js'

/** Limits applied before any route runs. Every field is optional; defaults are generous. */
export interface IngestLimits {
  /** Token bucket per source IP (IPv6: per /64); `false` turns it off. Default 2000/s, burst 4000. */
  rate?: RateLimitConfig | false
  /** A POST body must arrive whole within this many ms of the request, else 408. Default 30 000. */
  bodyTimeoutMs?: number
  /** The request line and headers must arrive within this many ms, else the connection is closed. */
  headersTimeoutMs?: number
  /** Bytes of request bodies held at once, all connections together; beyond it 503 + Retry-After. */
  maxInFlightBytes?: number
  /** How long an idle keep-alive connection stays open. Default 65 000. */
  keepAliveTimeoutMs?: number
  /** Whose X-Forwarded-For is believed when keying the rate limit. */
  trustedProxies?: TrustedProxies
}

export const defaultBodyTimeoutMs = 30_000
export const defaultHeadersTimeoutMs = 10_000
export const defaultKeepAliveTimeoutMs = 65_000
/** Seconds a client is asked to wait when the in-flight byte cap is reached. */
const busyRetryAfterSec = 1

export interface HttpServer {
  readonly port: number
  /** Stops accepting connections, waits for requests in progress, then closes idle connections. */
  close: () => Promise<void>
}

const nowMs = (): number => performance.timeOrigin + performance.now()

interface ServerOptions {
  host: string
  port: number
  maxBodyBytes: number
  routes: readonly Route[]
  log: Logger
  metrics?: Metrics
  limits?: IngestLimits
}

/** Counts the body bytes every request holds, so a flood of large bodies cannot exhaust memory. */
function byteBudget(max: number) {
  let held = 0
  return {
    take(n: number): boolean {
      if (held + n > max) return false
      held += n
      return true
    },
    give(n: number): void {
      held -= n
    },
  }
}

function write(res: ServerResponse, reply: Reply, closeConnection = false): void {
  if (res.headersSent || res.destroyed) return
  const headers: Record<string, string | number> = {
    'Content-Type': reply.contentType ?? 'text/plain',
    'Content-Length': Buffer.byteLength(reply.body),
    ...(reply.headers ?? {}),
  }
  // An unread body cannot be skipped safely: the connection goes, and with it whatever was left.
  if (closeConnection) headers['Connection'] = 'close'
  res.writeHead(reply.status, headers).end(reply.body)
  if (closeConnection) res.once('finish', () => res.socket?.destroySoon())
}

/**
 * The request target, origin-form only (`/path?query`): an absolute URL or `//host/...` would let
 * the sender pick what the parser calls the host, and a malformed one would make URL throw.
 */
function requestUrl(target: string | undefined): URL | undefined {
  if (target === undefined || !target.startsWith('/')) return undefined
  const full = `http://ingest.invalid${target}`
  return URL.canParse(full) ? new URL(full) : undefined
}

/** The answer for bytes the HTTP parser refused (bad framing, huge headers), with a JSON reason. */
function onClientError(err: NodeJS.ErrnoException, socket: Socket): void {
  // A timeout before a whole request, or a client that hung up mid-request: nobody to answer.
  const gone = ['ERR_HTTP_REQUEST_TIMEOUT', 'ECONNRESET', 'HPE_INVALID_EOF_STATE']
  if (gone.includes(err.code ?? '') || !socket.writable) {
    socket.destroy()
    return
  }
  if (socket.bytesWritten > 0) {
    socket.destroy()
    return
  }
  const tooBig = err.code === 'HPE_HEADER_OVERFLOW'
  const body = JSON.stringify(
    tooBig
      ? { error: 'headers_too_large', reason: 'the request headers exceed the server limit' }
      : { error: 'bad_request', reason: 'the request is not valid HTTP/1.1' },
  )
  socket.end(
    `HTTP/1.1 ${tooBig ? '431 Request Header Fields Too Large' : '400 Bad Request'}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  )
}

/**
 * The ingest HTTP/1.1 server on node:http. Every limit is checked before a route's handler runs:
 * rate per source, method and path, declared and actual body size, the shared in-flight byte cap,
 * and a body deadline. Handlers get the whole body and answer with a Reply; a handler that throws
 * gets a 500 and a log line (the route's own code decides every other status).
 */
export function startHttpServer(opts: ServerOptions): Promise<HttpServer> {
  const limits = opts.limits ?? {}
  const rateConfig = limits.rate ?? defaultRateLimit
  const limiter: RateLimiter | undefined = rateConfig === false ? undefined : createRateLimiter(rateConfig)
  const bodyTimeoutMs = limits.bodyTimeoutMs ?? defaultBodyTimeoutMs
  const budget = byteBudget(limits.maxInFlightBytes ?? Number.MAX_SAFE_INTEGER)
  let inProgress = 0
  let idle: (() => void) | undefined

  const server = createServer(
    {
      headersTimeout: Math.min(limits.headersTimeoutMs ?? defaultHeadersTimeoutMs, bodyTimeoutMs + 5000),
      // The body deadline is ours (a JSON 408); node's whole-request timeout only backs it up.
      requestTimeout: bodyTimeoutMs + 5000,
      // Longer than a load balancer's idle timeout (AWS: 60 s), else it reuses a connection just as
      // the server closes it and the request fails with a reset.
      keepAliveTimeout: limits.keepAliveTimeoutMs ?? defaultKeepAliveTimeoutMs,
      connectionsCheckingInterval: 1000,
    },
    (req, res) => {
      inProgress++
      res.once('close', () => {
        inProgress--
        if (inProgress === 0) idle?.()
      })
      handle(req, res)
    },
  )
  server.on('clientError', onClientError)

  const source = (req: IncomingMessage): string => {
    const peer = req.socket.remoteAddress ?? ''
    const xff = req.headers['x-forwarded-for']
    const forwarded = typeof xff === 'string' ? xff : undefined
    return sourceKey(limits.trustedProxies?.clientAddress(peer, forwarded) ?? peer)
  }

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const receivedAtMs = nowMs()
    const url = requestUrl(req.url)
    const match: RouteMatch =
      url === undefined
        ? { kind: 'bad_path', reply: jsonError(400, 'bad_path', 'the request target must be a path') }
        : matchRoute(opts.routes, url.pathname, req.method ?? '')
    const routeName = match.kind === 'route' ? match.route.name : match.kind
    const count = (status: number): void => void opts.metrics?.httpRequests.inc({ route: routeName, status })

    if (limiter !== undefined) {
      const taken = limiter.take(source(req), performance.now())
      if (!taken.ok) {
        count(429)
        const reply = jsonError(
          429,
          'rate_limited',
          `too many requests from this source; retry in ${taken.retryAfterSec} s`,
        )
        write(res, { ...reply, headers: { 'Retry-After': String(taken.retryAfterSec) } }, req.method !== 'GET')
        return
      }
    }
    if (match.kind !== 'route') {
      count(match.reply.status)
      write(res, match.reply, req.method !== 'GET' && req.method !== 'HEAD')
      return
    }
    const route = match.route
    const endTimer = opts.metrics?.httpDuration.startTimer({ route: route.name })
    const headers: Record<string, string> = {}
    for (const h of route.headers) {
      const v = req.headers[h]
      if (typeof v === 'string') headers[h] = v
    }
    let held = 0
    let sent = false
    const timer: { deadline?: NodeJS.Timeout } = {}
    const send = (reply: Reply, closeConnection = false): void => {
      if (sent) return
      sent = true
      clearTimeout(timer.deadline)
      budget.give(held)
      held = 0
      endTimer?.()
      count(reply.status)
      if (reply.refusal !== undefined) opts.metrics?.ingestRefusals.inc({ route: route.name, reason: reply.refusal })
      write(res, reply, closeConnection)
    }
    const run = (body: Buffer): void => {
      const request: IncomingRequest = {
        method: route.method,
        // A route matched, so the target parsed.
        path: url?.pathname ?? '/',
        params: match.params,
        query: url?.searchParams ?? new URLSearchParams(),
        headers,
        body,
        receivedAtMs,
      }
      Promise.resolve()
        .then(() => route.handler(request))
        .then(send, (err: unknown) => {
          opts.log.error({ err: errorMessage(err), route: route.name }, 'handler failed')
          send(jsonError(500, 'internal_error', 'the request could not be handled; retry later'))
        })
    }
    // A client gone before the answer: release its bytes; nothing can be written any more.
    res.once('close', () => {
      if (!sent) send(jsonError(499, 'client_closed', 'the client closed the connection'))
    })
    if (route.method === 'GET') {
      req.resume()
      run(Buffer.alloc(0))
      return
    }
    const tooLarge = (): Reply => jsonError(413, 'body_too_large', `body exceeds ${opts.maxBodyBytes} bytes`)
    const busy = (): Reply => ({
      ...jsonError(503, 'busy', 'too many request bytes in flight; retry shortly'),
      headers: { 'Retry-After': String(busyRetryAfterSec) },
      refusal: 'bytes_in_flight',
    })
    const declared = req.headers['content-length']
    if (declared !== undefined && Number(declared) > opts.maxBodyBytes) {
      // Refuse before reading: a declared oversize body never costs us memory.
      send(tooLarge(), true)
      return
    }
    // A declared length is reserved whole up front; a chunked body reserves as it arrives.
    const reserve = declared === undefined ? 0 : Number(declared)
    if (!budget.take(reserve)) {
      send(busy(), true)
      return
    }
    held = reserve
    const chunks: Buffer[] = []
    let size = 0
    // A sender trickling its body holds a connection and a buffer: it gets a deadline, then a 408.
    timer.deadline = setTimeout(() => {
      chunks.length = 0
      send(jsonError(408, 'body_timeout', `the body did not arrive within ${bodyTimeoutMs} ms`), true)
    }, bodyTimeoutMs)
    req.on('data', (chunk: Buffer) => {
      if (sent) return
      size += chunk.byteLength
      if (size > opts.maxBodyBytes) {
        chunks.length = 0
        send(tooLarge(), true)
        return
      }
      if (size > held) {
        if (!budget.take(size - held)) {
          chunks.length = 0
          send(busy(), true)
          return
        }
        held = size
      }
      chunks.push(chunk)
    })
    req.on('end', () => {
      if (sent) return
      clearTimeout(timer.deadline)
      run(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size))
    })
  }

  return new Promise((resolve, reject) => {
    server.once('error', (err) => reject(new Error(`cannot listen on ${opts.host}:${opts.port}: ${errorMessage(err)}`)))
    server.listen(opts.port, opts.host, () => {
      resolve({
        port: (server.address() as AddressInfo).port,
        close: async () => {
          const closed = new Promise<void>((r) => server.close(() => r()))
          server.closeIdleConnections()
          if (inProgress > 0) await new Promise<void>((r) => (idle = r))
          server.closeAllConnections()
          await closed
        },
      })
    })
  })
}
