import {
  createHttp,
  failureFromThrow,
  isRecord,
  jsonOrUndefined,
  parseRetryAfter,
  type HttpResponse,
} from './http-pool.js'
import { classifyHttpFailure } from '../processors/classify-failure.js'

/**
 * Client for the WhatsApp Cloud API. Expected outcomes (Meta errors, network failures) come back
 * as values with everything a classifier needs (HTTP status, Meta code, details); deciding between
 * retry and fail is not done here.
 */

export interface MetaClientOptions {
  /** e.g. https://graph.facebook.com (or a fake's URL). */
  graphUrl: string
  /** e.g. v21.0 */
  apiVersion: string
  connections?: number
  connectTimeoutMs?: number
  headersTimeoutMs?: number
  bodyTimeoutMs?: number
  /**
   * Step 2 of a media download (the URL Graph answered): not done by this client's pools but by
   * the fetch policy every download goes through (sinks/media.ts `downloadMeta`).
   */
  downloadMedia: MetaClient['downloadMedia']
}

export interface MetaError {
  code?: number
  message: string
  type?: string
  details?: string
  fbtraceId?: string
}

export interface MetaFailure {
  ok: false
  /** HTTP status; 0 when no HTTP response arrived (network: true). */
  status: number
  error: MetaError
  retryAfterMs?: number
  /** Set when no response arrived: the request may or may not have reached Meta. */
  network?: true
  /** Stable code of the network error (ECONNREFUSED, UND_ERR_SOCKET, UND_ERR_HEADERS_TIMEOUT…). */
  networkCode?: string
  /** Set when a response body exceeded the allowed size. */
  tooLarge?: true
  /**
   * Meta may have taken the message: the request left and no answer came, a 5xx came without a
   * Graph error body (a proxy's 502/504), or a 2xx came without a wamid. Such a send is settled from
   * Meta's status webhooks, never retried blindly.
   */
  outcomeUnknown?: true
}

export type MetaSendResult =
  { ok: true; wamid: string; waId: string; status: number; messageStatus?: string } | MetaFailure

export type MetaMediaInfoResult =
  { ok: true; url: string; mimeType: string; sha256?: string; fileSize?: number; id: string } | MetaFailure

export type MetaDownloadResult = { ok: true; bytes: Buffer; contentType: string } | (MetaFailure & { refused?: string })

export interface MetaClient {
  sendMessage(req: { phoneNumberId: string; accessToken: string; body: unknown }): Promise<MetaSendResult>
  getMediaUrl(req: { mediaId: string; accessToken: string }): Promise<MetaMediaInfoResult>
  downloadMedia(req: { url: string; accessToken: string; maxBytes: number }): Promise<MetaDownloadResult>
  close(): Promise<void>
}

/** API answers are small; a larger one is not Meta talking. */
const MAX_API_RESPONSE = 1024 * 1024

export function createMetaClient(opts: MetaClientOptions): MetaClient {
  const http = createHttp({
    ...(opts.connections !== undefined ? { connections: opts.connections } : {}),
    ...(opts.connectTimeoutMs !== undefined ? { connectTimeoutMs: opts.connectTimeoutMs } : {}),
    ...(opts.headersTimeoutMs !== undefined ? { headersTimeoutMs: opts.headersTimeoutMs } : {}),
    ...(opts.bodyTimeoutMs !== undefined ? { bodyTimeoutMs: opts.bodyTimeoutMs } : {}),
  })
  const base = `${opts.graphUrl.replace(/\/+$/, '')}/${opts.apiVersion}`

  async function call(
    url: string,
    init: { method: 'GET' | 'POST'; headers: Record<string, string>; body?: string; maxBytes?: number },
  ): Promise<HttpResponse | MetaFailure> {
    try {
      return await http.request(url, { maxBytes: MAX_API_RESPONSE, ...init })
    } catch (err) {
      return failureFromThrow(err)
    }
  }

  return {
    async sendMessage({ phoneNumberId, accessToken, body }) {
      const res = await call(`${base}/${encodeURIComponent(phoneNumberId)}/messages`, {
        method: 'POST',
        headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json' },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      })
      if ('ok' in res) return markUnknown(res)
      const json = jsonOrUndefined(res.body)
      if (res.status < 200 || res.status >= 300) return markUnknown(failureFromResponse(res, json))
      const message = isRecord(json) && Array.isArray(json.messages) ? json.messages[0] : undefined
      const contact = isRecord(json) && Array.isArray(json.contacts) ? json.contacts[0] : undefined
      if (!isRecord(message) || typeof message.id !== 'string') {
        // 2xx without a wamid: Meta may have sent it; report it as a failure the classifier can see.
        return {
          ok: false,
          status: res.status,
          error: { message: `2xx without messages[0].id: ${snippet(res.body)}` },
          outcomeUnknown: true,
        }
      }
      const to = isRecord(body) && typeof body.to === 'string' ? body.to.replace(/^\+/, '') : ''
      const waId = isRecord(contact) && typeof contact.wa_id === 'string' ? contact.wa_id : to
      return {
        ok: true,
        wamid: message.id,
        waId,
        status: res.status,
        ...(typeof message.message_status === 'string' ? { messageStatus: message.message_status } : {}),
      }
    },

    async getMediaUrl({ mediaId, accessToken }) {
      const res = await call(`${base}/${encodeURIComponent(mediaId)}`, {
        method: 'GET',
        headers: { authorization: `Bearer ${accessToken}` },
      })
      if ('ok' in res) return res
      const json = jsonOrUndefined(res.body)
      if (res.status !== 200) return failureFromResponse(res, json)
      if (!isRecord(json) || typeof json.url !== 'string' || typeof json.mime_type !== 'string') {
        return { ok: false, status: res.status, error: { message: `media response without url: ${snippet(res.body)}` } }
      }
      return {
        ok: true,
        url: json.url,
        mimeType: json.mime_type,
        id: typeof json.id === 'string' ? json.id : mediaId,
        ...(typeof json.sha256 === 'string' ? { sha256: json.sha256 } : {}),
        ...(typeof json.file_size === 'number' ? { fileSize: json.file_size } : {}),
      }
    },

    downloadMedia: (req) => opts.downloadMedia(req),

    close: () => http.close(),
  }
}

function failureFromResponse(res: HttpResponse, json: unknown): MetaFailure {
  const retryAfterMs = parseRetryAfter(res.headers['retry-after'])
  const e = isRecord(json) && isRecord(json.error) ? json.error : undefined
  const data = e !== undefined && isRecord(e.error_data) ? e.error_data : undefined
  const error: MetaError =
    e === undefined
      ? { message: `HTTP ${res.status}: ${snippet(res.body)}` }
      : {
          message: typeof e.message === 'string' ? e.message : `HTTP ${res.status}`,
          ...(typeof e.code === 'number' ? { code: e.code } : {}),
          ...(typeof e.type === 'string' ? { type: e.type } : {}),
          ...(typeof data?.details === 'string' ? { details: data.details } : {}),
          ...(typeof e.fbtrace_id === 'string' ? { fbtraceId: e.fbtrace_id } : {}),
        }
  return { ok: false, status: res.status, error, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) }
}

/** The one HTTP failure reading (classify-failure.ts) says whether Meta may have taken the send. */
function markUnknown(f: MetaFailure): MetaFailure {
  return classifyHttpFailure(f) === 'unknown-outcome' ? { ...f, outcomeUnknown: true } : f
}

/**
 * What an unexpected answer was, without any of its bytes: error messages reach the errors topic,
 * logs and (inbound) the agent, and no fetched body may (docs/security.md).
 */
function snippet(body: Buffer): string {
  return `${body.length} bytes, not the expected JSON`
}
