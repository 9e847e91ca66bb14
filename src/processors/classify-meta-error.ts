import { BridgeError, type ErrorCode } from '../errors.js'
import { classifyHttpFailure } from './classify-failure.js'
import type { GenesysReasonCode } from './types/genesys.js'

/** What the sender saw when POST /messages did not return a wamid. */
export interface MetaSendFailure {
  /** HTTP status; 0 or anything when `network` is set. */
  status: number
  error?: { code?: number; message: string; details?: string }
  /** Retry-After, when Meta sent one. */
  retryAfterMs?: number
  /** No HTTP answer at all (connect error, reset, timeout). */
  network?: boolean
  /** Stable code of the network error: a refused connection proves the request never left. */
  networkCode?: string
}

/**
 * `unknown-outcome`: Meta may have taken the message (no answer after the request left, a 5xx
 * without Meta's error body, a 2xx without a wamid); the send is settled, not blindly repeated.
 */
export type MetaErrorAction = 'retry' | 'fail' | 'throttle-recipient' | 'unknown-outcome'

export interface MetaErrorClass {
  action: MetaErrorAction
  error: BridgeError
  /** Reason for the Failed receipt, sent now on 'fail' or after the last retry otherwise. */
  receiptReason: GenesysReasonCode
  /** Receipt reason text (Genesys requires a non-empty message). */
  receiptMessage: string
  /** A 401/190 may be our cached token expiring: refetch credentials and try once more. */
  refreshCredentials: boolean
  /** Needs a human (spam limit, account locked, policy, permissions): alert, do not loop. */
  alert: boolean
}

type Kind = 'rate' | 'pair' | 'transient' | 'unknown' | 'permanent' | 'media' | 'quality' | 'auth' | 'policy'
interface Rule {
  kind: Kind
  reason: GenesysReasonCode
}

const rule = (kind: Kind, reason: GenesysReasonCode, codes: number[]) =>
  codes.map((c) => [c, { kind, reason }] as const)

/**
 * The one table from Meta error code to handling and Genesys reason (facts §3.2 and §5).
 * Rate limits map to RateLimited, which is only sent once retries are exhausted.
 */
const rules = new Map<number, Rule>([
  ...rule('rate', 'RateLimited', [130429, 80007, 4]),
  ...rule('pair', 'RateLimited', [131056]),
  // 1 "unknown" and 131057 "maintenance" are not in the §5 list; they behave like 131000/131016.
  ...rule('transient', 'ServerError', [1, 2, 131000, 131016, 131057]),
  ...rule('permanent', 'MessageNotAllowed', [131047]),
  ...rule('permanent', 'InvalidDestination', [131026]),
  ...rule('permanent', 'UnsupportedMessage', [131051]),
  ...rule('permanent', 'InvalidMessageStructure', [100, 131008, 131009, 131021, 132000, 132001]),
  // Media download/upload errors: refined from the details text in mediaReason().
  ...rule('media', 'GeneralError', [131052, 131053]),
  // Spam and marketing limits: retrying soon makes the number's quality worse.
  ...rule('quality', 'RateLimited', [131048, 131049]),
  ...rule('auth', 'GeneralError', [190, 0, 10, ...range(200, 299)]),
  // 130497: the business may not message users in that country, i.e. this recipient.
  ...rule('policy', 'GeneralError', [131031, 368]),
  ...rule('policy', 'MessageNotAllowed', [130497]),
])

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i)
}

/** Genesys reason for a Meta error code, e.g. from a `failed` status webhook. Unknown → GeneralError. */
export function receiptReasonForMetaCode(code: number | undefined, details?: string): GenesysReasonCode {
  const r = code === undefined ? undefined : rules.get(code)
  if (r === undefined) return 'GeneralError'
  return r.kind === 'media' ? mediaReason(details) : r.reason
}

/**
 * Meta reports media failures with one code for several causes and says to read error_data.details;
 * the closest Genesys reason is picked from it, else GeneralError.
 */
function mediaReason(details: string | undefined): GenesysReasonCode {
  if (details === undefined) return 'GeneralError'
  if (/\b(size|too (large|big)|exceed)/i.test(details)) return 'InvalidMediaContentLength'
  if (/\b(mime|type|format|unsupported)/i.test(details)) return 'MediaTypeNotAllowed'
  return 'GeneralError'
}

export function classifyMetaError(f: MetaSendFailure): MetaErrorClass {
  const code = f.error?.code
  const known = code === undefined ? undefined : rules.get(code)
  const kind = known?.kind ?? kindFromHttp(f)
  const reason = known ? receiptReasonForMetaCode(code, f.error?.details) : reasonFromKind(kind)
  const text = describe(f)
  const refreshCredentials = kind === 'auth' && (f.status === 401 || code === 190)
  const opts = {
    canRetry: kind === 'rate' || kind === 'pair' || kind === 'transient',
    retryAfterMs: f.retryAfterMs,
    // A request that got no answer may still have been sent (Meta has no idempotency key, facts §5).
    details: { metaCode: code, httpStatus: f.status, maybeSent: kind === 'unknown', receiptReason: reason },
  }
  return {
    action:
      kind === 'pair'
        ? 'throttle-recipient'
        : kind === 'unknown'
          ? 'unknown-outcome'
          : opts.canRetry
            ? 'retry'
            : 'fail',
    error: new BridgeError(bridgeCode(kind), text, opts),
    receiptReason: reason,
    receiptMessage: text,
    refreshCredentials,
    alert: kind === 'auth' || kind === 'policy' || kind === 'quality',
  }
}

/** No Meta code in the table: the shared HTTP reading decides (classify-failure.ts). */
function kindFromHttp(f: MetaSendFailure): Kind {
  switch (classifyHttpFailure(f)) {
    case 'retry':
      return f.status === 429 ? 'rate' : 'transient'
    case 'unknown-outcome':
      return 'unknown'
    case 'auth':
      return 'auth'
    default:
      return 'permanent'
  }
}

function reasonFromKind(kind: Kind): GenesysReasonCode {
  if (kind === 'transient' || kind === 'unknown') return 'ServerError'
  if (kind === 'rate') return 'RateLimited'
  return 'GeneralError'
}

function bridgeCode(kind: Kind): ErrorCode {
  switch (kind) {
    case 'rate':
    case 'pair':
    case 'quality':
      return 'GWB_META_RATE_LIMIT'
    case 'transient':
    case 'unknown':
      return 'GWB_META_TRANSIENT'
    case 'auth':
      return 'GWB_META_AUTH'
    case 'media':
      return 'GWB_MEDIA'
    default:
      return 'GWB_META_PERMANENT'
  }
}

function describe(f: MetaSendFailure): string {
  if (f.network === true) return `WhatsApp send got no answer: ${f.error?.message ?? 'network error'}`
  const head = f.error?.code === undefined ? `WhatsApp HTTP ${f.status}` : `WhatsApp ${f.error.code}`
  const text = f.error?.details || f.error?.message || 'no error body'
  return `${head}: ${text}`
}

/** Receipt reason once the retries of a retryable error are used up. */
export function receiptReasonForExhausted(code: ErrorCode): GenesysReasonCode {
  if (code === 'GWB_META_RATE_LIMIT') return 'RateLimited'
  if (code === 'GWB_META_TRANSIENT' || code === 'GWB_GENESYS_TRANSIENT') return 'ServerError'
  return 'GeneralError'
}
