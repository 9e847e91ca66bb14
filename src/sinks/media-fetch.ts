import { lookup } from 'node:dns/promises'
import { isIP } from 'node:net'
import { Agent, Pool, buildConnector, type Dispatcher } from 'undici'
import { addressRefusal } from '../processors/ip-address.js'
import {
  MAX_REDIRECTS,
  checkFetchUrl,
  mayCarryBearer,
  type BearerRule,
  type HostRules,
  type RefusalReason,
} from '../processors/fetch-policy.js'
import type { ByteBudget } from '../semaphore.js'
import { describeNetworkError, parseRetryAfter } from './http-pool.js'

/**
 * Every download the bridge makes from a URL it was given (Genesys attachments and template
 * headers, Meta media) goes through here, under one policy:
 * - the URL: https, a host the tenant's rules allow, no userinfo (fetch-policy.ts), re-checked on
 *   every redirect, which this module follows itself (at most 3);
 * - the address, at connect time: the host name is resolved here and every address it resolves to
 *   must be public (ip-address.ts), then the socket is opened to that checked address, so DNS
 *   rebinding between a check and the connect is impossible;
 * - the bearer token only to URLs its rule names, never after a redirect has left the origin;
 * - a byte cap per download, a total-time cap, and a per-process budget of bytes in flight.
 * What comes back never carries any of the fetched bytes except a 200's body.
 */

/** Resolves a host name to its addresses (dns.lookup by default; tests inject their own). */
export type Resolver = (hostname: string) => Promise<string[]>

export interface MediaFetchOptions {
  connectTimeoutMs: number
  headersTimeoutMs: number
  bodyTimeoutMs: number
  /** The whole download, redirects included. */
  totalTimeoutMs: number
  /** Bytes of media downloads in flight in this process (MEDIA_BYTES_IN_FLIGHT). */
  budget: ByteBudget
  /** FETCH_INSECURE_ORIGINS (`host:port`): the local fakes, connected to without the address check. */
  insecureOrigins: ReadonlySet<string>
  resolve?: Resolver
  connectionsPerOrigin?: number
  /** Told of every refusal (gwb_fetch_refusals_total). */
  onRefused?: (reason: RefusalReason) => void
}

export interface FetchRequest {
  rules: HostRules
  maxBytes: number
  bearer?: { token: string; rule: BearerRule; when: 'always' | 'on-401-403' }
}

export type FetchOutcome =
  | { ok: true; bytes: Buffer; contentType: string | undefined; usedBearer: boolean }
  | { ok: false; kind: 'refused'; reason: RefusalReason; detail: string }
  | { ok: false; kind: 'status'; status: number; retryAfterMs?: number }
  | { ok: false; kind: 'too-large'; status: number }
  | { ok: false; kind: 'network'; message: string; code?: string }

export interface MediaFetcher {
  get(url: string, req: FetchRequest): Promise<FetchOutcome>
  close(): Promise<void>
}

/** Thrown by the connector; the request rejects with it. */
export class FetchRefused extends Error {
  constructor(
    readonly reason: RefusalReason,
    readonly detail: string,
  ) {
    super(`refused by the fetch policy: ${reason} (${detail})`)
    this.name = 'FetchRefused'
  }
}

const defaultResolver: Resolver = async (hostname) =>
  (await lookup(hostname, { all: true, verbatim: true })).map((a) => a.address)

export function createMediaFetcher(opts: MediaFetchOptions): MediaFetcher {
  const resolve = opts.resolve ?? defaultResolver
  const connector = guardedConnector(buildConnector({ timeout: opts.connectTimeoutMs }), resolve, (key) =>
    opts.insecureOrigins.has(key),
  )
  const agent = new Agent({
    factory: (origin, o) =>
      new Pool(origin, {
        ...o,
        connections: opts.connectionsPerOrigin ?? 16,
        pipelining: 1,
        connect: connector,
        headersTimeout: opts.headersTimeoutMs,
        bodyTimeout: opts.bodyTimeoutMs,
      }),
  })

  async function hop(url: URL, headers: Record<string, string>, maxBytes: number, signal: AbortSignal) {
    const res = await agent.request({
      origin: url.origin,
      path: `${url.pathname}${url.search}`,
      method: 'GET',
      headers,
      signal,
    })
    const location = res.headers.location
    if (res.statusCode >= 300 && res.statusCode < 400 && res.statusCode !== 304) {
      await discard(res)
      return { kind: 'redirect' as const, location: typeof location === 'string' ? location : undefined }
    }
    if (res.statusCode !== 200) {
      await discard(res)
      return { kind: 'status' as const, status: res.statusCode, retryAfter: res.headers['retry-after'] }
    }
    const ct = res.headers['content-type']
    const bytes = await readCapped(res, maxBytes)
    if (bytes === undefined) return { kind: 'too-large' as const }
    return { kind: 'body' as const, bytes, contentType: typeof ct === 'string' ? ct : undefined }
  }

  async function follow(start: string, req: FetchRequest, withBearer: boolean, signal: AbortSignal) {
    let target: string = start
    let firstHost: string | undefined
    for (let hops = 0; ; hops++) {
      const checked = checkFetchUrl(target, req.rules)
      if (!checked.ok) return { ...checked, kind: 'refused' as const }
      firstHost ??= checked.hostKey
      const b = req.bearer
      // The token never follows a redirect off the first origin, and only goes where its rule says.
      const sendBearer =
        withBearer && b !== undefined && checked.hostKey === firstHost && mayCarryBearer(checked.url, b.rule)
      const got = await hop(checked.url, sendBearer ? { authorization: `Bearer ${b.token}` } : {}, req.maxBytes, signal)
      if (got.kind !== 'redirect') return { ...got, usedBearer: sendBearer }
      if (got.location === undefined) return { kind: 'status' as const, status: 502, usedBearer: sendBearer }
      if (hops >= MAX_REDIRECTS) {
        return { kind: 'refused' as const, reason: 'too_many_redirects' as const, detail: `more than ${MAX_REDIRECTS}` }
      }
      try {
        target = new URL(got.location, checked.url).href
      } catch {
        return { kind: 'refused' as const, reason: 'bad_url' as const, detail: 'redirect to something not a URL' }
      }
    }
  }

  async function get(url: string, req: FetchRequest): Promise<FetchOutcome> {
    const out = await attempt(url, req)
    if (!out.ok && out.kind === 'refused') opts.onRefused?.(out.reason)
    return out
  }

  async function attempt(url: string, req: FetchRequest): Promise<FetchOutcome> {
    const signal = AbortSignal.timeout(opts.totalTimeoutMs)
    let release: (() => void) | undefined
    try {
      release = await opts.budget.reserve(req.maxBytes, signal)
      const eager = req.bearer?.when === 'always'
      let got = await follow(url, req, eager, signal)
      const askedForAuth = got.kind === 'status' && (got.status === 401 || got.status === 403)
      if (askedForAuth && req.bearer !== undefined && !eager && !got.usedBearer) {
        got = await follow(url, req, true, signal)
      }
      switch (got.kind) {
        case 'refused':
          return { ok: false, kind: 'refused', reason: got.reason, detail: got.detail }
        case 'status': {
          const retryAfterMs = 'retryAfter' in got ? parseRetryAfter(got.retryAfter) : undefined
          return {
            ok: false,
            kind: 'status',
            status: got.status,
            ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
          }
        }
        case 'too-large':
          return { ok: false, kind: 'too-large', status: 200 }
        default:
          return { ok: true, bytes: got.bytes, contentType: got.contentType, usedBearer: got.usedBearer }
      }
    } catch (err) {
      if (err instanceof FetchRefused) return { ok: false, kind: 'refused', reason: err.reason, detail: err.detail }
      if (signal.aborted) return { ok: false, kind: 'network', message: 'download took too long', code: 'TIMEOUT' }
      const e = describeNetworkError(err)
      return { ok: false, kind: 'network', message: e.message, ...(e.code === undefined ? {} : { code: e.code }) }
    } finally {
      release?.()
    }
  }

  return { get, close: () => agent.close() }
}

/**
 * Wraps undici's connector: resolve the host here, refuse unless every address is public (or the
 * origin is an explicitly insecure one), then connect to the checked address. TLS still verifies
 * the certificate against the host name (undici derives the SNI name from `host`).
 */
function guardedConnector(
  base: buildConnector.connector,
  resolve: Resolver,
  isInsecure: (hostKey: string) => boolean,
): buildConnector.connector {
  return (options, callback) => {
    const { hostname, protocol } = options
    const port = options.port !== '' ? options.port : protocol === 'https:' ? '443' : '80'
    const literal = isIP(hostname) !== 0
    const insecure = isInsecure(`${isIP(hostname) === 6 ? `[${hostname}]` : hostname}:${port}`)
    const addresses = literal ? Promise.resolve([hostname]) : resolve(hostname)
    addresses.then(
      (list) => {
        // The sandbox's and tests' fakes (FETCH_INSECURE_ORIGINS) are local by design: not checked.
        const refused = insecure
          ? undefined
          : list.length === 0
            ? 'no-address'
            : list.map(addressRefusal).find((r) => r !== undefined)
        if (refused !== undefined) {
          callback(new FetchRefused('address_not_public', `${hostname.slice(0, 200)} resolves to ${refused}`), null)
          return
        }
        base({ ...options, hostname: list[0] ?? hostname }, callback)
      },
      (err: unknown) => callback(err instanceof Error ? err : new Error(String(err)), null),
    )
  }
}

async function discard(res: Dispatcher.ResponseData): Promise<void> {
  await res.body.dump({ limit: 64 * 1024 }).catch(() => undefined)
}

/** The body, or undefined once it passes maxBytes (then the connection is dropped). */
async function readCapped(res: Dispatcher.ResponseData, maxBytes: number): Promise<Buffer | undefined> {
  const declared = Number(res.headers['content-length'])
  const chunks: Buffer[] = []
  let size = 0
  if (!(Number.isFinite(declared) && declared > maxBytes)) {
    for await (const chunk of res.body) {
      const b = chunk as Buffer
      size += b.length
      if (size > maxBytes) break
      chunks.push(b)
    }
    if (size <= maxBytes) return Buffer.concat(chunks)
  }
  res.body.on('error', () => undefined)
  res.body.destroy()
  return undefined
}
