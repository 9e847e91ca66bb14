import { randomBytes } from 'node:crypto'
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http'
import { FaultQueue, RateLimiter, sampleLatencyMs, sleep, type LatencyModel } from './fault-plan.js'
import {
  BodyTooLarge,
  bearerOf,
  dropConnection,
  isObject,
  nowMs,
  parseJson,
  readBody,
  sendBytes,
  sendJson,
  startFakeServer,
  type DownMode,
} from './http-server.js'
import { buildOutbound, genesysMessageId, sendOutboundWebhook, type OutboundSpec } from './genesys-webhooks.js'
import {
  badRequest,
  genesysError,
  validateEvent,
  validateInboundMessage,
  validateReceipt,
  type GenesysErrorBody,
} from './genesys-validate.js'
import { LinkFetcher } from './link-fetcher.js'
import type { WebhookResult } from './meta-webhooks.js'
import { Recorder, clip } from './recorder.js'

/**
 * A local Genesys Cloud: client-credentials login, the three Open Messaging inbound endpoints with
 * their validation and error bodies, token expiry, download URLs for outbound attachments, and
 * latency, errors, 429s and outages on demand.
 */

export interface GenesysClient {
  clientId: string
  clientSecret: string
  integrationId: string
  tokenTtlSeconds?: number
}

export type InboundKind = 'message' | 'receipt' | 'event'
export type RequestKind = InboundKind | 'token' | 'download'

export type GenesysFault = { status: number; retryAfterSeconds?: number; body?: unknown } | { drop: true }

export interface GenesysReceived {
  seq: number
  kind: InboundKind
  integrationId: string
  body: unknown
  raw: string
  token: string | undefined
  headers: IncomingHttpHeaders
  arrivedAt: number
  /** HTTP status answered; 0 when the connection was dropped. */
  status: number
  /** The Genesys message id assigned (message/event) or echoed (receipt). */
  id?: string
  error?: GenesysErrorBody
  /** First attachment `url`, downloaded like Genesys does (fetchUrls). */
  urlStatus?: number
  urlBody?: Buffer
  urlContentType?: string
  urlError?: string
}

export interface FakeGenesysOptions {
  port?: number
  /** Listening address; loopback by default. */
  host?: string
  latency?: LatencyModel
  /** Download inbound attachment URLs after accepting, like Genesys. Default true. */
  fetchUrls?: boolean
  /** Per-token request limit per minute (Genesys default 300); off unless set. */
  rateLimitPerMinute?: number
  maxBodyBytes?: number
  /** Keep at most about this many recorded requests (oldest dropped); default all. */
  maxRecorded?: number
}

export interface FakeGenesys {
  /** Serves both the API host and the login host. */
  readonly url: string
  readonly apiUrl: string
  readonly loginUrl: string
  readonly port: number
  readonly received: GenesysReceived[]
  readonly tokenRequests: { clientId: string | undefined; status: number; arrivedAt: number }[]
  readonly downloadRequests: { id: string; withBearer: boolean; status: number }[]
  addClient(c: GenesysClient): void
  /** Every issued token becomes invalid, as if its TTL had passed. */
  expireTokens(): void
  setLatency(model: LatencyModel | undefined): void
  setRateLimit(perMinute: number | undefined): void
  /** Default match: the inbound endpoints (message, receipt, event). */
  failNext(n: number, fault: GenesysFault, match?: { kind?: RequestKind | RequestKind[]; integrationId?: string }): void
  down(mode?: DownMode): Promise<void>
  up(): Promise<void>
  addDownload(bytes: Buffer, mime: string, opts?: { requireAuth?: boolean; filename?: string }): string
  waitFor(predicate: (r: GenesysReceived) => boolean, timeoutMs?: number): Promise<GenesysReceived>
  waitForCount(
    count: number,
    predicate?: (r: GenesysReceived) => boolean,
    timeoutMs?: number,
  ): Promise<GenesysReceived[]>
  buildOutbound(spec: OutboundSpec): Record<string, unknown>
  sendOutboundWebhook(
    targetUrl: string,
    body: unknown,
    secret: string,
    headers?: Record<string, string>,
  ): Promise<WebhookResult>
  reset(): void
  close(): Promise<void>
}

interface Token {
  clientId: string
  integrationId: string
  expiresAt: number
}

interface FaultCtx {
  kind: RequestKind
  integrationId?: string
}

const INBOUND = /^\/api\/v2\/conversations\/messages\/([^/]+)\/inbound\/open\/(message|receipt|event)$/
const DOWNLOAD = /^\/api\/v2\/downloads\/([^/]+)$/
const validators: Record<InboundKind, (b: unknown) => string | undefined> = {
  message: validateInboundMessage,
  receipt: validateReceipt,
  event: validateEvent,
}

const oauthError = (error: string, description: string) => ({ error, description, error_description: description })

export async function createFakeGenesys(opts: FakeGenesysOptions = {}): Promise<FakeGenesys> {
  const clients = new Map<string, GenesysClient>()
  const integrations = new Set<string>()
  const tokens = new Map<string, Token>()
  const downloads = new Map<string, { bytes: Buffer; mime: string; requireAuth: boolean; filename?: string }>()
  const recorder = new Recorder<GenesysReceived>(
    (r) =>
      `#${r.seq} ${r.kind} ${r.integrationId} → ${r.status}${r.error ? ` (${r.error.message})` : ''} ${clip(r.raw, 160)}`,
    opts.maxRecorded,
  )
  const tokenRequests: FakeGenesys['tokenRequests'] = []
  const downloadRequests: FakeGenesys['downloadRequests'] = []
  const faults = new FaultQueue<GenesysFault, FaultCtx>()
  const linkFetcher = new LinkFetcher(25 * 1024 * 1024)
  let latency = opts.latency
  let limiter: RateLimiter | undefined
  let limitPerMinute: number | undefined
  let seq = 0
  const fetchUrls = opts.fetchUrls ?? true
  const maxBody = opts.maxBodyBytes ?? 1024 * 1024

  const setRateLimit = (perMinute: number | undefined): void => {
    limitPerMinute = perMinute
    limiter = perMinute ? new RateLimiter(perMinute, perMinute / 60) : undefined
  }
  setRateLimit(opts.rateLimitPerMinute)

  /** undefined when the bearer is valid; otherwise the 401 body to answer. */
  const tokenOf = (req: IncomingMessage): { token: Token; value: string } | GenesysErrorBody => {
    const value = bearerOf(req)
    if (value === undefined) {
      return genesysError(
        401,
        'authentication.required',
        'No authentication bearer token specified in authorization header.',
      )
    }
    const token = tokens.get(value)
    if (token === undefined || token.expiresAt <= Date.now()) {
      return genesysError(401, 'bad.credentials', 'Invalid login credentials.')
    }
    return { token, value }
  }

  /** Answers a scripted fault if one matches; true when the request was handled. */
  function applyFault(req: IncomingMessage, res: ServerResponse, ctx: FaultCtx): boolean {
    const f = faults.take(ctx)
    if (f === undefined) return false
    if ('drop' in f) {
      dropConnection(req, res)
      return true
    }
    const a = faultAnswer(f)
    sendJson(res, f.status, a.body, a.headers)
    return true
  }

  async function handleToken(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = (await readBody(req, 64 * 1024)).toString('utf8')
    const arrivedAt = nowMs()
    const basic = /^basic\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1]
    const [clientId, ...rest] = basic === undefined ? [] : Buffer.from(basic, 'base64').toString('utf8').split(':')
    const answer = (status: number, body: unknown, headers: Record<string, string> = {}): void => {
      tokenRequests.push({ clientId, status, arrivedAt })
      sendJson(res, status, body, headers)
    }
    await sleep(sampleLatencyMs(latency))
    if (applyFault(req, res, { kind: 'token' })) return void tokenRequests.push({ clientId, status: 0, arrivedAt })
    const client = clientId === undefined ? undefined : clients.get(clientId)
    if (client === undefined || client.clientSecret !== rest.join(':')) {
      return answer(401, oauthError('invalid_client', 'authentication failed'))
    }
    if (!(req.headers['content-type'] ?? '').toLowerCase().startsWith('application/x-www-form-urlencoded')) {
      return answer(400, oauthError('invalid_request', 'content type must be application/x-www-form-urlencoded'))
    }
    const grant = new URLSearchParams(raw).get('grant_type')
    if (grant !== 'client_credentials') {
      return answer(400, oauthError('unsupported_grant_type', `grant type ${grant ?? '(none)'} is not supported`))
    }
    const ttl = client.tokenTtlSeconds ?? 86_400
    const value = randomBytes(48).toString('base64url')
    tokens.set(value, {
      clientId: client.clientId,
      integrationId: client.integrationId,
      expiresAt: Date.now() + ttl * 1000,
    })
    answer(200, { access_token: value, token_type: 'bearer', expires_in: ttl })
  }

  async function handleInbound(
    req: IncomingMessage,
    res: ServerResponse,
    integrationId: string,
    kind: InboundKind,
  ): Promise<void> {
    const arrivedAt = nowMs()
    let raw: Buffer
    try {
      raw = await readBody(req, maxBody)
    } catch (err) {
      if (err instanceof BodyTooLarge)
        return sendJson(res, 413, genesysError(413, 'request.entity.too.large', err.message))
      throw err
    }
    const parsed = parseJson(raw)
    const rec: GenesysReceived = {
      seq: ++seq,
      kind,
      integrationId,
      body: parsed.ok ? parsed.value : undefined,
      raw: raw.toString('utf8'),
      token: bearerOf(req),
      headers: req.headers,
      arrivedAt,
      status: 0,
    }
    const finish = (status: number, body: unknown, headers: Record<string, string> = {}): void => {
      rec.status = status
      if (status >= 400) rec.error = body as GenesysErrorBody
      recorder.push(rec)
      sendJson(res, status, body, headers)
    }
    await sleep(sampleLatencyMs(latency))
    const f = faults.take({ kind, integrationId })
    if (f !== undefined) {
      if ('drop' in f) {
        recorder.push(rec)
        return dropConnection(req, res)
      }
      const a = faultAnswer(f)
      return finish(f.status, a.body, a.headers)
    }
    const auth = tokenOf(req)
    if ('status' in auth) return finish(401, auth)
    if (!integrations.has(integrationId))
      return finish(404, genesysError(404, 'not.found', `Integration ${integrationId} not found`))
    if (auth.token.integrationId !== integrationId) {
      return finish(403, genesysError(403, 'not.authorized', 'You are not authorized to perform the requested action.'))
    }
    if (limiter !== undefined) {
      const waitMs = limiter.hit(auth.value)
      if (waitMs > 0) {
        return finish(
          429,
          genesysError(
            429,
            'too.many.requests',
            `Rate limit exceeded the maximum [${limitPerMinute}] requests within [60] seconds`,
          ),
          { 'retry-after': String(Math.ceil(waitMs / 1000)) },
        )
      }
    }
    if (!parsed.ok)
      return finish(400, badRequest('The request could not be understood by the server due to malformed syntax.'))
    const invalid = validators[kind](parsed.value)
    if (invalid !== undefined) return finish(400, badRequest(invalid))
    const body = parsed.value as Record<string, unknown>
    rec.id = kind === 'receipt' ? String(body.id) : genesysMessageId()
    finish(200, storedMessage(kind, integrationId, rec.id, body))
    if (kind === 'message' && fetchUrls) void fetchAttachment(rec, body)
  }

  async function fetchAttachment(rec: GenesysReceived, body: Record<string, unknown>): Promise<void> {
    const first = Array.isArray(body.content) ? (body.content[0] as unknown) : undefined
    const url = isObject(first) && isObject(first.attachment) ? first.attachment.url : undefined
    if (typeof url !== 'string') return
    const got = await linkFetcher.fetch(url)
    rec.urlStatus = got.status
    if (got.body !== undefined) rec.urlBody = got.body
    if (got.contentType !== undefined) rec.urlContentType = got.contentType
    if (got.error !== undefined) rec.urlError = got.error
    recorder.changed()
  }

  function handleDownload(req: IncomingMessage, res: ServerResponse, id: string): void {
    const d = downloads.get(id)
    const withBearer = bearerOf(req) !== undefined
    const answer = (status: number): void => void downloadRequests.push({ id, withBearer, status })
    if (d === undefined) {
      answer(404)
      return sendJson(res, 404, genesysError(404, 'not.found', 'The requested resource was not found.'))
    }
    if (d.requireAuth) {
      const auth = tokenOf(req)
      if ('status' in auth) {
        answer(401)
        return sendJson(res, 401, auth)
      }
    }
    answer(200)
    if (d.filename !== undefined) res.setHeader('content-disposition', `attachment; filename="${d.filename}"`)
    sendBytes(res, d.bytes, d.mime)
  }

  const server = await startFakeServer(
    opts.port ?? 0,
    async (req, res) => {
      const path = (req.url ?? '/').split('?')[0] ?? '/'
      const inbound = INBOUND.exec(path)
      if (req.method === 'POST' && inbound !== null) {
        return handleInbound(req, res, decodeURIComponent(inbound[1] ?? ''), inbound[2] as InboundKind)
      }
      if (req.method === 'POST' && path === '/oauth/token') return handleToken(req, res)
      req.resume()
      const dl = DOWNLOAD.exec(path)
      if (req.method === 'GET' && dl !== null) {
        await sleep(sampleLatencyMs(latency))
        if (applyFault(req, res, { kind: 'download' })) return
        return handleDownload(req, res, dl[1] ?? '')
      }
      sendJson(res, 404, genesysError(404, 'not.found', `No route for ${req.method} ${path}`))
    },
    (_req, res) =>
      sendJson(res, 503, genesysError(503, 'service.unavailable', 'The service is currently unavailable.')),
    opts.host,
  )

  const publicUrl = server.url
  return {
    url: publicUrl,
    apiUrl: publicUrl,
    loginUrl: publicUrl,
    port: server.port,
    received: recorder.items,
    tokenRequests,
    downloadRequests,
    addClient(c) {
      clients.set(c.clientId, c)
      integrations.add(c.integrationId)
    },
    expireTokens() {
      for (const t of tokens.values()) t.expiresAt = 0
    },
    setLatency(model) {
      latency = model
    },
    setRateLimit,
    failNext(n, fault, match) {
      const kinds: RequestKind[] =
        match?.kind === undefined
          ? ['message', 'receipt', 'event']
          : Array.isArray(match.kind)
            ? match.kind
            : [match.kind]
      faults.add(
        n,
        fault,
        (ctx) =>
          kinds.includes(ctx.kind) && (match?.integrationId === undefined || ctx.integrationId === match.integrationId),
      )
    },
    down: (mode) => server.down(mode),
    up: () => server.up(),
    addDownload(bytes, mime, o = {}) {
      const id = randomBytes(12).toString('hex')
      downloads.set(id, {
        bytes,
        mime,
        requireAuth: o.requireAuth ?? false,
        ...(o.filename ? { filename: o.filename } : {}),
      })
      return `${publicUrl}/api/v2/downloads/${id}`
    },
    waitFor: (p, t) => recorder.waitFor(p, t, 'a matching request to fake Genesys'),
    waitForCount: (c, p, t) => recorder.waitForCount(c, p, t),
    buildOutbound,
    sendOutboundWebhook,
    reset() {
      recorder.reset()
      faults.clear()
      tokenRequests.length = 0
      downloadRequests.length = 0
      seq = 0
      setRateLimit(opts.rateLimitPerMinute)
    },
    async close() {
      await server.close()
      await linkFetcher.close()
    },
  }
}

/** Body and headers for an injected HTTP fault, in Genesys' error shape unless the test gave one. */
function faultAnswer(f: { status: number; retryAfterSeconds?: number; body?: unknown }): {
  body: unknown
  headers: Record<string, string>
} {
  const code = f.status === 429 ? 'too.many.requests' : f.status >= 500 ? 'internal.server.error' : 'bad.request'
  return {
    body: f.body ?? genesysError(f.status, code, `Injected failure ${f.status}`),
    headers: f.retryAfterSeconds !== undefined ? { 'retry-after': String(f.retryAfterSeconds) } : {},
  }
}

/** The stored message Genesys answers with: the posted body plus its own id and channel fields. */
function storedMessage(kind: InboundKind, integrationId: string, id: string, body: Record<string, unknown>): unknown {
  const channel = isObject(body.channel) ? body.channel : {}
  const stored = {
    ...body,
    id,
    channel: { ...channel, id: integrationId, platform: 'Open', type: 'Private' },
    direction: kind === 'receipt' ? 'Outbound' : 'Inbound',
  }
  if (kind === 'message') return { type: 'Text', ...stored }
  if (kind === 'event') return { type: 'Event', ...stored }
  return { type: 'Receipt', ...stored }
}
