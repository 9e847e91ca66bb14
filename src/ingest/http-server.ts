import uWS from 'uWebSockets.js'
import { errorMessage } from '../errors.js'
import type { Logger } from '../log.js'
import type { Metrics } from '../metrics.js'

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
}

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
  411: '411 Length Required',
  413: '413 Payload Too Large',
  415: '415 Unsupported Media Type',
  429: '429 Too Many Requests',
  500: '500 Internal Server Error',
  503: '503 Service Unavailable',
}

const nowMs = (): number => performance.timeOrigin + performance.now()

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
}): Promise<HttpServer> {
  const app = uWS.App()
  const byPath = new Map<string, Route[]>()
  for (const r of opts.routes) byPath.set(r.path, [...(byPath.get(r.path) ?? []), r])

  for (const [path, routes] of byPath) {
    app.any(path, (res, req) => {
      const method = req.getCaseSensitiveMethod().toUpperCase()
      const route = routes.find((r) => r.method === method)
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
      serve(res, req, route, opts)
    })
  }
  app.any('/*', (res, req) => {
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
  opts: { maxBodyBytes: number; log: Logger; metrics?: Metrics },
): void {
  const receivedAtMs = nowMs()
  const endTimer = opts.metrics?.httpDuration.startTimer({ route: route.name })
  let aborted = false
  res.onAborted(() => {
    aborted = true
  })
  const headers: Record<string, string> = {}
  for (const h of route.headers) headers[h] = req.getHeader(h)
  const query = new URLSearchParams(req.getQuery() ?? '')
  const path = req.getUrl()
  const declared = req.getHeader('content-length')

  const send = (reply: Reply): void => {
    endTimer?.()
    opts.metrics?.httpRequests.inc({ route: route.name, status: reply.status })
    if (aborted) return
    res.cork(() => {
      res.writeStatus(statusText[reply.status] ?? String(reply.status))
      res.writeHeader('Content-Type', reply.contentType ?? 'text/plain')
      res.end(reply.body)
    })
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
    send(jsonError(413, 'body_too_large', `body exceeds ${opts.maxBodyBytes} bytes`))
    return
  }
  const chunks: Buffer[] = []
  let size = 0
  let refused = false
  res.onData((chunk, isLast) => {
    if (refused) return
    size += chunk.byteLength
    if (size > opts.maxBodyBytes) {
      refused = true
      send(jsonError(413, 'body_too_large', `body exceeds ${opts.maxBodyBytes} bytes`))
      return
    }
    // uWS reuses the chunk's memory after this callback returns: copy it.
    chunks.push(Buffer.from(new Uint8Array(chunk)))
    if (isLast) run(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size))
  })
}
