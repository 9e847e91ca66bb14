import type { IncomingHttpHeaders } from 'node:http'
import { Agent, Pool, type Dispatcher } from 'undici'

/**
 * The HTTP layer under both platform clients: one undici Pool per origin (bounded connections,
 * pipelining 1, keep-alive), timeouts on connect, headers and body, and every response body read
 * to the end or destroyed, so a connection never leaks back into the pool half-read.
 */

export interface HttpOptions {
  /** Max connections per origin. */
  connections?: number
  connectTimeoutMs?: number
  headersTimeoutMs?: number
  bodyTimeoutMs?: number
  keepAliveTimeoutMs?: number
}

export interface HttpRequest {
  method: 'GET' | 'POST'
  headers?: Record<string, string>
  body?: string | Buffer
  /** Larger bodies are abandoned with ResponseTooLarge. */
  maxBytes: number
}

export interface HttpResponse {
  status: number
  headers: IncomingHttpHeaders
  body: Buffer
}

export class ResponseTooLarge extends Error {
  constructor(
    readonly limit: number,
    readonly status: number,
  ) {
    super(`response body larger than ${limit} bytes`)
    this.name = 'ResponseTooLarge'
  }
}

export interface Http {
  request(url: string | URL, req: HttpRequest): Promise<HttpResponse>
  close(): Promise<void>
}

export function createHttp(opts: HttpOptions = {}): Http {
  const poolOptions: Pool.Options = {
    connections: opts.connections ?? 64,
    pipelining: 1,
    connect: { timeout: opts.connectTimeoutMs ?? 5_000 },
    headersTimeout: opts.headersTimeoutMs ?? 10_000,
    bodyTimeout: opts.bodyTimeoutMs ?? 30_000,
    keepAliveTimeout: opts.keepAliveTimeoutMs ?? 30_000,
  }
  // The Agent keeps one Pool per origin and drops idle ones. Only configured API origins come
  // here: downloads from URLs a webhook names go through media-fetch.ts and its policy.
  const agent = new Agent({ factory: (origin) => new Pool(origin, poolOptions) })

  async function request(url: string | URL, req: HttpRequest): Promise<HttpResponse> {
    const res = await agent.request({
      origin: new URL(url).origin,
      path: pathOf(url),
      method: req.method,
      headers: req.headers ?? {},
      body: req.body ?? null,
    })
    return { status: res.statusCode, headers: res.headers, body: await readCapped(res, req.maxBytes) }
  }

  return { request, close: () => agent.close() }
}

function pathOf(url: string | URL): string {
  const u = new URL(url)
  return `${u.pathname}${u.search}`
}

async function readCapped(res: Dispatcher.ResponseData, maxBytes: number): Promise<Buffer> {
  const declared = Number(res.headers['content-length'])
  if (Number.isFinite(declared) && declared > maxBytes) {
    abandon(res.body)
    throw new ResponseTooLarge(maxBytes, res.statusCode)
  }
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of res.body) {
    const b = chunk as Buffer
    size += b.length
    if (size > maxBytes) {
      abandon(res.body)
      throw new ResponseTooLarge(maxBytes, res.statusCode)
    }
    chunks.push(b)
  }
  return chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks)
}

/**
 * Stops reading a body. undici emits an abort error on destroy; with nobody listening it would
 * surface as an uncaught exception, so swallow it here (the pool drops that connection).
 */
function abandon(body: Dispatcher.ResponseData['body']): void {
  body.on('error', () => undefined)
  body.destroy()
}

/** A thrown undici/socket error as data: message plus the stable code (ECONNREFUSED, UND_ERR_SOCKET…). */
export function describeNetworkError(err: unknown): { message: string; code?: string } {
  if (err instanceof Error) {
    const code = (err as Error & { code?: unknown }).code
    const inner = err instanceof AggregateError ? err.errors.find((e): e is Error => e instanceof Error) : undefined
    const innerCode = (inner as (Error & { code?: unknown }) | undefined)?.code
    const c = typeof code === 'string' ? code : typeof innerCode === 'string' ? innerCode : undefined
    const message = err.message || inner?.message || String(c ?? 'network error')
    return c === undefined ? { message } : { message: `${c}: ${message}`, code: c }
  }
  return { message: String(err) }
}

/** A call that got no usable answer, as both platform clients report it (no response, or too large). */
export interface TransportFailure {
  ok: false
  /** 0 when no response arrived. */
  status: number
  error: { message: string }
  network?: true
  networkCode?: string
  tooLarge?: true
}

export function failureFromThrow(err: unknown): TransportFailure {
  if (err instanceof ResponseTooLarge) {
    return { ok: false, status: err.status, error: { message: err.message }, tooLarge: true }
  }
  const e = describeNetworkError(err)
  return {
    ok: false,
    status: 0,
    error: { message: e.message },
    network: true,
    ...(e.code !== undefined ? { networkCode: e.code } : {}),
  }
}

/** Retry-After as delta-seconds or HTTP-date, in ms; undefined when absent or unparseable. */
export function parseRetryAfter(value: string | string[] | undefined, now: number = Date.now()): number | undefined {
  const v = Array.isArray(value) ? value[0] : value
  if (v === undefined || v.trim() === '') return undefined
  if (/^\s*\d+(\.\d+)?\s*$/.test(v)) return Math.round(Number(v) * 1000)
  const at = Date.parse(v)
  return Number.isNaN(at) ? undefined : Math.max(0, at - now)
}

export function jsonOrUndefined(body: Buffer): unknown {
  if (body.length === 0) return undefined
  try {
    return JSON.parse(body.toString('utf8')) as unknown
  } catch {
    return undefined
  }
}

export const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v)
