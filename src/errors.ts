/**
 * Stable error codes. The code, not the class, decides what happens to a record:
 * retry with backoff, dead-letter after the last attempt, or fail at once with a receipt.
 */
export const errorCodes = [
  'GWB_CONFIG',
  'GWB_BAD_REQUEST',
  'GWB_SIGNATURE',
  'GWB_TENANT_UNKNOWN',
  'GWB_TENANT_INACTIVE',
  'GWB_NO_MAPPING',
  'GWB_SCHEMA_INCOMPATIBLE',
  'GWB_DECODE',
  'GWB_UNSUPPORTED_CONTENT',
  'GWB_MEDIA',
  'GWB_FETCH_REFUSED',
  'GWB_MEDIA_TYPE',
  'GWB_META_TRANSIENT',
  'GWB_META_RATE_LIMIT',
  'GWB_META_PERMANENT',
  'GWB_META_AUTH',
  'GWB_SEND_UNSETTLED',
  'GWB_GENESYS_TRANSIENT',
  'GWB_GENESYS_PERMANENT',
  'GWB_GENESYS_AUTH',
  'GWB_CLAIM_HELD',
  'GWB_STORE_UNAVAILABLE',
  'GWB_KAFKA_UNAVAILABLE',
  'GWB_KAFKA_AUTH',
  'GWB_MIGRATION',
  'GWB_SETUP_REQUIRED',
] as const

export type ErrorCode = (typeof errorCodes)[number]

const kBridgeError = Symbol.for('genesys-whatsapp-bridge.error')

export interface BridgeErrorOptions {
  canRetry?: boolean
  cause?: unknown
  /** Delay the platform asked for (Retry-After, pair limits), in milliseconds. */
  retryAfterMs?: number
  details?: Record<string, unknown>
}

export class BridgeError extends Error {
  readonly code: ErrorCode
  readonly canRetry: boolean
  readonly retryAfterMs: number | undefined
  readonly details: Record<string, unknown>
  readonly [kBridgeError] = true

  constructor(code: ErrorCode, message: string, opts: BridgeErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause })
    this.name = 'BridgeError'
    this.code = code
    this.canRetry = opts.canRetry ?? false
    this.retryAfterMs = opts.retryAfterMs
    this.details = opts.details ?? {}
  }
}

/** Brand check instead of instanceof, so it holds across copies of the module. */
export function isBridgeError(err: unknown): err is BridgeError {
  return typeof err === 'object' && err !== null && (err as Record<symbol, unknown>)[kBridgeError] === true
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
