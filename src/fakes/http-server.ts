import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

/**
 * The node:http plumbing both fakes share: a lean server (no per-request logging, keep-alive on),
 * body reading with a cap, JSON answers, and the two ways a platform can be "down".
 */

export type DownMode = '503' | 'refuse'

export interface FakeServer {
  readonly server: Server
  readonly port: number
  readonly url: string
  /** '503' answers every request with 503; 'refuse' closes the listener so connects are refused. */
  down(mode?: DownMode): Promise<void>
  up(): Promise<void>
  readonly downMode: DownMode | undefined
  close(): Promise<void>
}

export type Handler = (req: IncomingMessage, res: ServerResponse) => Promise<void>

export async function startFakeServer(
  port: number,
  handler: Handler,
  onDown503: (req: IncomingMessage, res: ServerResponse) => void,
  /** Loopback unless a container must reach it (docker compose, the Kubernetes sandbox: 0.0.0.0). */
  host = '127.0.0.1',
): Promise<FakeServer> {
  let downMode: DownMode | undefined
  const server = createServer({ keepAlive: true, keepAliveTimeout: 65_000 }, (req, res) => {
    if (downMode === '503') {
      // Drain the request so the connection stays usable after up().
      req.resume()
      onDown503(req, res)
      return
    }
    handler(req, res).catch((err: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { error: { message: String(err) } })
      else res.destroy()
    })
  })
  // Bench runs thousands of requests/s over a few pooled connections; don't cap requests per socket.
  server.maxRequestsPerSocket = 0
  server.headersTimeout = 60_000
  server.requestTimeout = 0

  const listen = (p: number): Promise<number> =>
    new Promise((resolve, reject) => {
      server.once('error', reject)
      // Meta and Genesys take connection bursts in stride; Node's default backlog (511) would drop
      // SYNs when a bridge opens hundreds of connections at once, stalling requests for seconds.
      server.listen({ port: p, host, backlog: 4096 }, () => {
        server.off('error', reject)
        resolve((server.address() as AddressInfo).port)
      })
    })

  const actualPort = await listen(port)
  const closeListener = (): Promise<void> =>
    new Promise((resolve) => {
      server.close(() => resolve())
      server.closeAllConnections()
    })

  return {
    server,
    port: actualPort,
    url: `http://127.0.0.1:${actualPort}`,
    get downMode() {
      return downMode
    },
    async down(mode: DownMode = '503') {
      if (downMode === 'refuse') return
      downMode = mode
      if (mode === 'refuse') await closeListener()
    },
    async up() {
      const was = downMode
      downMode = undefined
      if (was === 'refuse') await listen(actualPort)
    },
    async close() {
      if (downMode !== 'refuse') await closeListener()
      downMode = 'refuse'
    },
  }
}

export class BodyTooLarge extends Error {}

export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    const b = chunk as Buffer
    size += b.length
    if (size > limit) throw new BodyTooLarge(`body over ${limit} bytes`)
    chunks.push(b)
  }
  return chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks)
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string | number> = {},
): void {
  const text = JSON.stringify(body)
  res.writeHead(status, {
    'content-type': 'application/json; charset=UTF-8',
    'content-length': Buffer.byteLength(text),
    ...headers,
  })
  res.end(text)
}

export function sendBytes(res: ServerResponse, bytes: Buffer, contentType: string): void {
  res.writeHead(200, { 'content-type': contentType, 'content-length': bytes.length })
  res.end(bytes)
}

/** Token from `Authorization: Bearer <t>`, case-insensitive scheme as HTTP allows. */
export function bearerOf(req: IncomingMessage): string | undefined {
  const h = req.headers.authorization
  if (h === undefined) return undefined
  const m = /^bearer\s+(\S+)\s*$/i.exec(h)
  return m?.[1]
}

export const nowMs = (): number => performance.timeOrigin + performance.now()

/** Simulates a network failure: the client sees a reset/closed socket, no HTTP response. */
export function dropConnection(req: IncomingMessage, res: ServerResponse): void {
  req.socket.destroy()
  res.destroy()
}

export function parseJson(raw: Buffer): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(raw.toString('utf8')) as unknown }
  } catch {
    return { ok: false }
  }
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}
