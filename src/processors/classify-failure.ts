import { BridgeError, type ErrorCode } from '../errors.js'
import { fail, retry, type StageResult } from './result.js'

/**
 * The one reading of a failed HTTP call to Meta, Genesys or a media host: what it says about the
 * request. Platform-specific tables (Meta error codes, Genesys reasons) refine it; the HTTP part is
 * decided here only.
 *
 * - `retry`: known not acted on, or safe to repeat after a pause: the connection never opened,
 *   429, or a 5xx carrying the platform's own error body (the platform says it failed).
 * - `unknown-outcome`: the request may have been acted on: no answer after it left (reset,
 *   timeout), a 5xx without the platform's error body (a proxy's 502/504), or a 2xx the client could
 *   not read. A send must be settled, not repeated blindly; an idempotent call may just retry.
 * - `auth`: 401/403, the credentials are refused.
 * - `too-large`: the answer was larger than allowed (media).
 * - `permanent`: any other answer; repeating the same request cannot help.
 */
export type FailureClass = 'retry' | 'unknown-outcome' | 'auth' | 'too-large' | 'permanent'

export interface HttpFailure {
  /** HTTP status; 0 when no answer arrived. */
  status: number
  /** The platform's own error code, when the body was the platform's error object. */
  error?: { code?: number | string }
  /** No HTTP answer at all. */
  network?: boolean
  /** Stable code of the network error (ECONNREFUSED, UND_ERR_SOCKET, UND_ERR_HEADERS_TIMEOUT…). */
  networkCode?: string
  tooLarge?: boolean
}

/** Network errors that prove the request never left this process: safe to retry. */
const notSentCodes: ReadonlySet<string> = new Set(['ECONNREFUSED', 'ENOTFOUND', 'UND_ERR_CONNECT_TIMEOUT', 'EAI_AGAIN'])

export function classifyHttpFailure(f: HttpFailure): FailureClass {
  if (f.tooLarge === true) return 'too-large'
  if (f.network === true)
    return f.networkCode !== undefined && notSentCodes.has(f.networkCode) ? 'retry' : 'unknown-outcome'
  if (f.status === 429) return 'retry'
  if (f.status >= 500) return f.error?.code !== undefined ? 'retry' : 'unknown-outcome'
  if (f.status >= 200 && f.status < 300) return 'unknown-outcome'
  if (f.status === 401 || f.status === 403) return 'auth'
  return 'permanent'
}

/**
 * For calls that may be repeated (downloads, lookups, a Genesys post whose repeat carries the same
 * channel.messageId): an unknown outcome is retried like a known transient failure.
 */
export function isRetryableWhenRepeatable(c: FailureClass): boolean {
  return c === 'retry' || c === 'unknown-outcome'
}

/**
 * The outcome of a failed call that may be repeated: retried (never sooner than the platform's
 * Retry-After) when the class allows, else a permanent failure under `codes.permanent` (or
 * `codes.auth` for refused credentials).
 */
export function repeatableFailure(
  f: HttpFailure & { retryAfterMs?: number | undefined },
  codes: { transient: ErrorCode; permanent: ErrorCode; auth?: ErrorCode },
  text: string,
  details: Record<string, unknown> = {},
): StageResult<never> {
  const c = classifyHttpFailure(f)
  const all = { ...details, httpStatus: f.status, failureClass: c }
  if (isRetryableWhenRepeatable(c)) {
    return retry(
      new BridgeError(codes.transient, text, {
        canRetry: true,
        details: all,
        ...(f.retryAfterMs === undefined ? {} : { retryAfterMs: f.retryAfterMs }),
      }),
    )
  }
  return fail(new BridgeError(c === 'auth' ? (codes.auth ?? codes.permanent) : codes.permanent, text, { details: all }))
}
