import { BridgeError } from '../errors.js'
import { classifyHttpFailure, isRetryableWhenRepeatable } from '../processors/classify-failure.js'
import {
  createHttp,
  failureFromThrow,
  isRecord,
  jsonOrUndefined,
  parseRetryAfter,
  type Http,
  type HttpResponse,
} from './http-pool.js'

/**
 * Client for Genesys Cloud Open Messaging: client-credentials login, the inbound message, receipt
 * and event endpoints. Stateless apart from its pools: token caching and retry decisions belong to
 * the callers. Attachment downloads are not here: they go through the fetch policy (media-fetch.ts).
 */

export interface GenesysClientOptions {
  /** e.g. https://api.mypurecloud.ie */
  apiUrl: string
  /** e.g. https://login.mypurecloud.ie */
  loginUrl: string
  connections?: number
  connectTimeoutMs?: number
  headersTimeoutMs?: number
  bodyTimeoutMs?: number
}

export interface GenesysError {
  message: string
  /** Genesys error code such as bad.request, too.many.requests, or OAuth's invalid_client. */
  code?: string
  contextId?: string
}

export interface GenesysFailure {
  ok: false
  /** HTTP status; 0 when no response arrived. */
  status: number
  error: GenesysError
  retryAfterMs?: number
  network?: true
  networkCode?: string
  tooLarge?: true
}

export type GenesysPostResult = { ok: true; status: number; body: unknown } | GenesysFailure

export interface GenesysToken {
  accessToken: string
  /** Epoch ms at which Genesys stops accepting the token. */
  expiresAt: number
}

export interface InboundRequest {
  integrationId: string
  accessToken: string
  body: unknown
}

export interface GenesysApiClient {
  /** Throws BridgeError GWB_GENESYS_AUTH (bad credentials) or GWB_GENESYS_TRANSIENT (canRetry). */
  getToken(creds: { clientId: string; clientSecret: string }): Promise<GenesysToken>
  postInboundMessage(req: InboundRequest): Promise<GenesysPostResult>
  postReceipt(req: InboundRequest): Promise<GenesysPostResult>
  postEvent(req: InboundRequest): Promise<GenesysPostResult>
  close(): Promise<void>
}

/** What the Genesys SDKs wait on a 429 without Retry-After. */
export const DEFAULT_429_RETRY_MS = 3000
const MAX_API_RESPONSE = 1024 * 1024

export function createGenesysClient(opts: GenesysClientOptions): GenesysApiClient {
  const http: Http = createHttp({
    ...(opts.connections !== undefined ? { connections: opts.connections } : {}),
    ...(opts.connectTimeoutMs !== undefined ? { connectTimeoutMs: opts.connectTimeoutMs } : {}),
    ...(opts.headersTimeoutMs !== undefined ? { headersTimeoutMs: opts.headersTimeoutMs } : {}),
    ...(opts.bodyTimeoutMs !== undefined ? { bodyTimeoutMs: opts.bodyTimeoutMs } : {}),
  })
  const api = opts.apiUrl.replace(/\/+$/, '')
  const login = opts.loginUrl.replace(/\/+$/, '')

  async function post(kind: 'message' | 'receipt' | 'event', req: InboundRequest): Promise<GenesysPostResult> {
    const url = `${api}/api/v2/conversations/messages/${encodeURIComponent(req.integrationId)}/inbound/open/${kind}`
    let res: HttpResponse
    try {
      res = await http.request(url, {
        method: 'POST',
        headers: { authorization: `Bearer ${req.accessToken}`, 'content-type': 'application/json' },
        body: typeof req.body === 'string' ? req.body : JSON.stringify(req.body),
        maxBytes: MAX_API_RESPONSE,
      })
    } catch (err) {
      return failureFromThrow(err)
    }
    const json = jsonOrUndefined(res.body)
    if (res.status >= 200 && res.status < 300) return { ok: true, status: res.status, body: json }
    return failureFromResponse(res, json)
  }

  return {
    async getToken({ clientId, clientSecret }) {
      let res: HttpResponse
      try {
        res = await http.request(`${login}/oauth/token`, {
          method: 'POST',
          headers: {
            authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`,
            'content-type': 'application/x-www-form-urlencoded',
          },
          body: 'grant_type=client_credentials',
          maxBytes: 64 * 1024,
        })
      } catch (err) {
        const f = failureFromThrow(err)
        throw new BridgeError('GWB_GENESYS_TRANSIENT', `Genesys login failed: ${f.error.message}`, {
          canRetry: true,
          cause: err,
        })
      }
      const json = jsonOrUndefined(res.body)
      if (res.status === 200 && isRecord(json) && typeof json.access_token === 'string') {
        const expiresIn = typeof json.expires_in === 'number' ? json.expires_in : 0
        return { accessToken: json.access_token, expiresAt: Date.now() + expiresIn * 1000 }
      }
      const f = failureFromResponse(res, json)
      // A 200 without a token is the login host misbehaving, not our credentials: try again.
      const transient = res.status === 200 || isRetryableWhenRepeatable(classifyHttpFailure(f))
      throw new BridgeError(
        transient ? 'GWB_GENESYS_TRANSIENT' : 'GWB_GENESYS_AUTH',
        `Genesys login for client ${clientId} failed: HTTP ${res.status} ${f.error.code ?? ''} ${f.error.message}`.trim(),
        {
          canRetry: transient,
          ...(f.retryAfterMs !== undefined ? { retryAfterMs: f.retryAfterMs } : {}),
          details: { status: res.status, ...(f.error.code !== undefined ? { code: f.error.code } : {}) },
        },
      )
    },

    postInboundMessage: (req) => post('message', req),
    postReceipt: (req) => post('receipt', req),
    postEvent: (req) => post('event', req),

    close: () => http.close(),
  }
}

function failureFromResponse(res: HttpResponse, json: unknown): GenesysFailure {
  let retryAfterMs = parseRetryAfter(res.headers['retry-after'])
  if (retryAfterMs === undefined && res.status === 429) retryAfterMs = DEFAULT_429_RETRY_MS
  const error: GenesysError = { message: `HTTP ${res.status}` }
  if (isRecord(json)) {
    // Platform API errors: {message, code, status, contextId}; OAuth: {error, error_description}.
    const message = json.message ?? json.error_description ?? json.description
    const code = typeof json.code === 'string' ? json.code : json.error
    if (typeof message === 'string') error.message = message
    if (typeof code === 'string') error.code = code
    if (typeof json.contextId === 'string') error.contextId = json.contextId
  }
  return { ok: false, status: res.status, error, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) }
}
