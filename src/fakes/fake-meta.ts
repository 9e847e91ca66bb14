import { createHash, createHmac, randomBytes } from 'node:crypto'
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
import { LinkFetcher } from './link-fetcher.js'
import {
  invalidTokenError,
  metaError,
  metaStatusFor,
  unknownObjectError,
  type MetaErrorEnvelope,
} from './meta-errors.js'
import { validateSend } from './meta-validate.js'
import { StatusEmitter, type EmittedStatus, type StatusWebhookOptions } from './meta-status-emitter.js'
import {
  buildWebhook,
  sendMetaWebhook,
  type StatusError,
  type WebhookResult,
  type WebhookSpec,
} from './meta-webhooks.js'
import { Recorder, clip } from './recorder.js'

/**
 * A local WhatsApp Cloud API (Graph) that checks tokens per phone number, validates send bodies,
 * answers with Meta's success and error shapes, serves inbound media behind the two-step download,
 * and can be made slow, failing, rate limited or unreachable.
 */

export interface MetaNumber {
  phoneNumberId: string
  accessToken: string
  appSecret: string
  wabaId?: string
  displayPhoneNumber?: string
}

export type MetaFault =
  | { metaCode: number; status?: number; details?: string; message?: string }
  | { status: number; body?: unknown }
  | { drop: true }
  /**
   * Meta took the message (it is delivered and its statuses go out) but the answer the client sees
   * is this one: a proxy's bare 5xx, a 2xx without a wamid, or no answer at all.
   */
  | { accepted: true; status: number; body?: unknown }
  | { accepted: true; drop: true }

export interface MetaFaultMatch {
  to?: string
  phoneNumberId?: string
}

export interface MetaRateLimits {
  /** Per phone number throughput; over it → 130429. */
  perNumberMps?: number
  /** Per (number, recipient) pair; over it → 131056. Meta: about 1 per 6 s, bursts allowed. */
  perPair?: { burst: number; perSecond: number }
}

export const META_PAIR_LIMIT = { burst: 45, perSecond: 1 / 6 } as const

export interface ReceivedMessage {
  seq: number
  phoneNumberId: string
  /** Parsed JSON body, or undefined when the body was not JSON. */
  body: unknown
  raw: string
  token: string | undefined
  headers: IncomingHttpHeaders
  /** performance.timeOrigin + performance.now(), in ms. */
  arrivedAt: number
  /** HTTP status answered; 0 when the connection was dropped. */
  status: number
  /** Meta took the message: it reaches the customer whatever the answer said (accepted faults). */
  accepted: boolean
  wamid?: string
  error?: MetaErrorEnvelope['error']
  /** Set once the fake downloaded the media `link` (fetchLinks). */
  linkStatus?: number
  linkBody?: Buffer
  linkContentType?: string
  linkError?: string
}

export interface FakeMetaOptions {
  port?: number
  /** Listening address; loopback by default. */
  host?: string
  latency?: LatencyModel
  /** Download media `link`s after accepting a send, like Meta does. Default true. */
  fetchLinks?: boolean
  /** Lifetime of media download URLs. Default 5 minutes, as Meta's. */
  mediaUrlTtlMs?: number
  rateLimits?: MetaRateLimits
  maxBodyBytes?: number
  /** Keep at most about this many recorded requests (oldest dropped); default all. */
  maxRecorded?: number
}

export interface FakeMeta {
  readonly url: string
  readonly port: number
  readonly received: ReceivedMessage[]
  addNumber(n: MetaNumber): void
  setToken(phoneNumberId: string, accessToken: string): void
  setLatency(model: LatencyModel | undefined): void
  setRateLimits(limits: MetaRateLimits | undefined): void
  failNext(n: number, fault: MetaFault, match?: MetaFaultMatch): void
  down(mode?: DownMode): Promise<void>
  up(): Promise<void>
  /** Status webhooks for accepted sends (off until configured): where, how late, how lossy. */
  setStatusWebhooks(opts: StatusWebhookOptions | undefined): void
  /** The next `n` accepted sends (to `to`, if given) are reported `sent`, then `failed` with `error`. */
  failStatusNext(n: number, error: StatusError, to?: string): void
  /** Every status the fake emitted (or chose to lose), in order. */
  readonly emittedStatuses: EmittedStatus[]
  waitForStatus(predicate: (s: EmittedStatus) => boolean, timeoutMs?: number): Promise<EmittedStatus>
  /** Accepted sends (HTTP 200) to a recipient, `+` ignored. */
  messagesTo(waId: string): ReceivedMessage[]
  waitFor(predicate: (r: ReceivedMessage) => boolean, timeoutMs?: number): Promise<ReceivedMessage>
  waitForCount(
    count: number,
    predicate?: (r: ReceivedMessage) => boolean,
    timeoutMs?: number,
  ): Promise<ReceivedMessage[]>
  addMedia(phoneNumberId: string, bytes: Buffer, mimeType: string): string
  buildWebhook(spec: WebhookSpec): Record<string, unknown>
  sendWebhook(targetUrl: string, payload: unknown, appSecret: string): Promise<WebhookResult>
  reset(): void
  close(): Promise<void>
}

interface Media {
  phoneNumberId: string
  bytes: Buffer
  mimeType: string
  sha256: string
}

const normalizeWaId = (to: string): string => to.replace(/^\+/, '')
const VERSION = /^v\d+\.\d+$/
const WWW_AUTH = { 'www-authenticate': 'OAuth "Facebook Platform" "invalid_token" "Invalid OAuth access token"' }

export async function createFakeMeta(opts: FakeMetaOptions = {}): Promise<FakeMeta> {
  const numbers = new Map<string, MetaNumber>()
  const byToken = new Map<string, MetaNumber>()
  const media = new Map<string, Media>()
  const recorder = new Recorder<ReceivedMessage>(
    (r) => `#${r.seq} ${r.phoneNumberId} → ${r.status}${r.error ? ` (${r.error.code})` : ''} ${clip(r.raw, 160)}`,
    opts.maxRecorded,
  )
  const faults = new FaultQueue<MetaFault, MetaFaultMatch>()
  const statuses = new StatusEmitter()
  const linkFetcher = new LinkFetcher(100 * 1024 * 1024)
  const urlKey = randomBytes(16)
  let latency = opts.latency
  let seq = 0
  let mediaSeq = 0
  let wamidSeq = 0
  let numberLimiter: RateLimiter | undefined
  let pairLimiter: RateLimiter | undefined
  const fetchLinks = opts.fetchLinks ?? true
  const mediaUrlTtlMs = opts.mediaUrlTtlMs ?? 5 * 60_000
  const maxBody = opts.maxBodyBytes ?? 4 * 1024 * 1024
  const wamidPrefix = randomBytes(6).toString('base64url')

  const setRateLimits = (l: MetaRateLimits | undefined): void => {
    numberLimiter = l?.perNumberMps ? new RateLimiter(l.perNumberMps, l.perNumberMps) : undefined
    pairLimiter = l?.perPair ? new RateLimiter(l.perPair.burst, l.perPair.perSecond) : undefined
  }
  setRateLimits(opts.rateLimits)

  const tokenOwner = (req: IncomingMessage): MetaNumber | undefined => {
    const t = bearerOf(req)
    return t === undefined ? undefined : byToken.get(t)
  }

  const answerError = (res: ServerResponse, status: number, env: MetaErrorEnvelope): void =>
    sendJson(res, status, env, status === 401 ? WWW_AUTH : {})

  const addNumber = (n: MetaNumber): void => {
    const old = numbers.get(n.phoneNumberId)
    if (old !== undefined) byToken.delete(old.accessToken)
    numbers.set(n.phoneNumberId, n)
    byToken.set(n.accessToken, n)
  }

  async function handleSend(req: IncomingMessage, res: ServerResponse, phoneNumberId: string): Promise<void> {
    const arrivedAt = nowMs()
    let raw: Buffer
    try {
      raw = await readBody(req, maxBody)
    } catch (err) {
      if (err instanceof BodyTooLarge) return sendJson(res, 413, metaError(100, { details: err.message }))
      throw err
    }
    const parsed = parseJson(raw)
    const body = parsed.ok ? parsed.value : undefined
    const rec: ReceivedMessage = {
      seq: ++seq,
      phoneNumberId,
      body,
      raw: raw.toString('utf8'),
      token: bearerOf(req),
      headers: req.headers,
      arrivedAt,
      status: 0,
      accepted: false,
    }
    const to = isObject(body) && typeof body.to === 'string' ? body.to : undefined
    const finish = (status: number, payload: unknown): void => {
      rec.status = status
      if (isObject(payload) && isObject(payload.error)) rec.error = payload.error as MetaErrorEnvelope['error']
      recorder.push(rec)
      sendJson(res, status, payload, status === 401 ? WWW_AUTH : {})
    }

    await sleep(sampleLatencyMs(latency))

    const taken = faults.take({ phoneNumberId, ...(to !== undefined ? { to: normalizeWaId(to) } : {}) })
    // An accepted fault goes through every check below and only changes the answer.
    const acceptedFault = taken !== undefined && 'accepted' in taken ? taken : undefined
    const fault = acceptedFault === undefined ? taken : undefined
    if (fault !== undefined && !('accepted' in fault)) {
      if ('drop' in fault) {
        recorder.push(rec)
        return dropConnection(req, res)
      }
      if ('metaCode' in fault) {
        return finish(fault.status ?? metaStatusFor(fault.metaCode), metaError(fault.metaCode, fault))
      }
      return finish(fault.status, fault.body ?? metaError(fault.status >= 500 ? 131000 : 1))
    }

    const owner = tokenOwner(req)
    if (owner === undefined) return finish(401, invalidTokenError())
    if (owner.phoneNumberId !== phoneNumberId) return finish(400, unknownObjectError('post', phoneNumberId))
    if (!parsed.ok) return finish(400, metaError(100, { details: 'Request body is not valid JSON.' }))
    const invalid = validateSend(body)
    if (invalid !== undefined || to === undefined) {
      return finish(
        400,
        metaError(100, {
          message: invalid?.message ?? '(#100) Invalid parameter',
          ...(invalid?.details ? { details: invalid.details } : {}),
        }),
      )
    }
    const waId = normalizeWaId(to)
    if (numberLimiter !== undefined && numberLimiter.hit(phoneNumberId) > 0) return finish(400, metaError(130429))
    if (pairLimiter !== undefined && pairLimiter.hit(`${phoneNumberId}:${waId}`) > 0)
      return finish(400, metaError(131056))

    // Unique across reset(): prefix per fake instance plus a counter that never goes back.
    rec.wamid = `wamid.${wamidPrefix}${(++wamidSeq).toString(36)}`
    rec.accepted = true
    const callback = isObject(body) ? body.biz_opaque_callback_data : undefined
    statuses.accepted({
      wamid: rec.wamid,
      phoneNumberId,
      recipientId: waId,
      callbackData: typeof callback === 'string' ? callback : undefined,
      appSecret: owner.appSecret,
      wabaId: owner.wabaId,
      displayPhoneNumber: owner.displayPhoneNumber,
    })
    if (fetchLinks) void fetchLink(rec, body)
    if (acceptedFault !== undefined) {
      if ('drop' in acceptedFault) {
        recorder.push(rec)
        return dropConnection(req, res)
      }
      if (acceptedFault.body !== undefined) return finish(acceptedFault.status, acceptedFault.body)
      // A proxy's own page, not a Graph error: nothing in it says whether Meta took the message.
      rec.status = acceptedFault.status
      recorder.push(rec)
      res.writeHead(acceptedFault.status, { 'content-type': 'text/html' })
      res.end(`<html><body>${acceptedFault.status} Bad Gateway</body></html>`)
      return
    }
    finish(200, {
      messaging_product: 'whatsapp',
      contacts: [{ input: to, wa_id: waId }],
      messages: [{ id: rec.wamid }],
    })
  }

  async function fetchLink(rec: ReceivedMessage, body: unknown): Promise<void> {
    if (!isObject(body) || typeof body.type !== 'string') return
    const obj = body[body.type]
    if (!isObject(obj) || typeof obj.link !== 'string') return
    const got = await linkFetcher.fetch(obj.link)
    rec.linkStatus = got.status
    if (got.body !== undefined) rec.linkBody = got.body
    if (got.contentType !== undefined) rec.linkContentType = got.contentType
    if (got.error !== undefined) rec.linkError = got.error
    recorder.changed()
  }

  const signUrl = (mid: string, ext: number): string =>
    createHmac('sha256', urlKey).update(`${mid}:${ext}`).digest('base64url')

  function handleMediaInfo(req: IncomingMessage, res: ServerResponse, mediaId: string): void {
    const owner = tokenOwner(req)
    if (owner === undefined) return answerError(res, 401, invalidTokenError())
    const m = media.get(mediaId)
    if (m === undefined || m.phoneNumberId !== owner.phoneNumberId) {
      return answerError(res, 400, unknownObjectError('get', mediaId))
    }
    const ext = Math.floor((Date.now() + mediaUrlTtlMs) / 1000)
    sendJson(res, 200, {
      messaging_product: 'whatsapp',
      url: `${server.url}/whatsapp_business/attachments/?mid=${mediaId}&ext=${ext}&hash=${signUrl(mediaId, ext)}`,
      mime_type: m.mimeType,
      sha256: m.sha256,
      file_size: m.bytes.length,
      id: mediaId,
    })
  }

  function handleMediaDownload(req: IncomingMessage, res: ServerResponse, url: URL): void {
    const mid = url.searchParams.get('mid') ?? ''
    const ext = Number(url.searchParams.get('ext'))
    const m = media.get(mid)
    // A bare GET does not return the file: the same Bearer as step 1 is required.
    if (bearerOf(req) === undefined) return answerError(res, 401, invalidTokenError())
    const owner = tokenOwner(req)
    if (owner === undefined) return answerError(res, 401, invalidTokenError())
    if (
      m === undefined ||
      m.phoneNumberId !== owner.phoneNumberId ||
      url.searchParams.get('hash') !== signUrl(mid, ext)
    ) {
      return sendJson(res, 404, { error: { message: 'Media not found', code: 404 } })
    }
    if (ext * 1000 < Date.now()) return sendJson(res, 404, { error: { message: 'URL signature expired', code: 404 } })
    sendBytes(res, m.bytes, m.mimeType)
  }

  const server = await startFakeServer(
    opts.port ?? 0,
    async (req, res) => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1')
      const parts = url.pathname.split('/').filter((p) => p.length > 0)
      if (req.method === 'POST' && parts.length === 3 && VERSION.test(parts[0] ?? '') && parts[2] === 'messages') {
        return handleSend(req, res, parts[1] ?? '')
      }
      req.resume()
      await sleep(sampleLatencyMs(latency))
      if (req.method === 'GET' && parts.length === 2 && VERSION.test(parts[0] ?? '')) {
        return handleMediaInfo(req, res, parts[1] ?? '')
      }
      if (req.method === 'GET' && url.pathname === '/whatsapp_business/attachments/') {
        return handleMediaDownload(req, res, url)
      }
      const id = parts[1] ?? parts[0] ?? ''
      return sendJson(res, 400, unknownObjectError(req.method === 'GET' ? 'get' : 'post', id))
    },
    (_req, res) => sendJson(res, 503, metaError(2, { message: 'Service temporarily unavailable' })),
    opts.host,
  )

  return {
    url: server.url,
    port: server.port,
    received: recorder.items,
    addNumber,
    setToken(phoneNumberId, accessToken) {
      const n = numbers.get(phoneNumberId)
      if (n === undefined) throw new Error(`unknown phone number id ${phoneNumberId}`)
      addNumber({ ...n, accessToken })
    },
    setLatency(model) {
      latency = model
    },
    setRateLimits,
    setStatusWebhooks: (o) => statuses.configure(o),
    failStatusNext: (n, error, to) => statuses.failNext(n, error, to === undefined ? undefined : normalizeWaId(to)),
    emittedStatuses: statuses.emitted.items,
    waitForStatus: (p, t) => statuses.emitted.waitFor(p, t, 'a matching status webhook'),
    failNext(n, fault, match) {
      const want = match?.to === undefined ? undefined : normalizeWaId(match.to)
      faults.add(
        n,
        fault,
        match === undefined
          ? undefined
          : (ctx) =>
              (want === undefined || ctx.to === want) &&
              (match.phoneNumberId === undefined || ctx.phoneNumberId === match.phoneNumberId),
      )
    },
    down: (mode) => server.down(mode),
    up: () => server.up(),
    messagesTo(waId) {
      const want = normalizeWaId(waId)
      return recorder.items.filter(
        (r) => r.accepted && isObject(r.body) && typeof r.body.to === 'string' && normalizeWaId(r.body.to) === want,
      )
    },
    waitFor: (p, t) => recorder.waitFor(p, t, 'a matching request to fake Meta'),
    waitForCount: (c, p, t) => recorder.waitForCount(c, p, t),
    addMedia(phoneNumberId, bytes, mimeType) {
      // Real media ids are long decimal strings.
      const id = `${1_000_000_000_000 + ++mediaSeq}${randomBytes(2).readUInt16BE(0)}`
      media.set(id, { phoneNumberId, bytes, mimeType, sha256: createHash('sha256').update(bytes).digest('hex') })
      return id
    },
    buildWebhook(spec) {
      const n = numbers.get(spec.phoneNumberId)
      return buildWebhook({
        ...spec,
        wabaId: spec.wabaId ?? n?.wabaId,
        displayPhoneNumber: spec.displayPhoneNumber ?? n?.displayPhoneNumber,
      })
    },
    sendWebhook: (targetUrl, payload, appSecret) => sendMetaWebhook(targetUrl, payload, appSecret),
    reset() {
      recorder.reset()
      faults.clear()
      seq = 0
      setRateLimits(opts.rateLimits)
    },
    async close() {
      await statuses.close()
      await server.close()
      await linkFetcher.close()
    },
  }
}
