import type { BridgeError } from '../errors.js'

/**
 * What a stage returns. Expected outcomes are values, not exceptions: only the runner catches,
 * and an exception there means "unknown", which never commits the offset.
 */
export type StageResult<T> =
  | { readonly kind: 'ok'; readonly value: T }
  | { readonly kind: 'drop'; readonly reason: string }
  | {
      readonly kind: 'retry'
      readonly error: BridgeError
      /**
       * When the record first failed, as its row records it (epoch ms): the retry ceiling counts from
       * then rather than from this process's first attempt, so a restart does not reset it.
       */
      readonly firstFailedAtMs?: number
    }
  | { readonly kind: 'dead-letter'; readonly error: BridgeError }
  | { readonly kind: 'fail'; readonly error: BridgeError }

export const ok = <T>(value: T): StageResult<T> => ({ kind: 'ok', value })
export const drop = <T = never>(reason: string): StageResult<T> => ({ kind: 'drop', reason })
export const retry = <T = never>(error: BridgeError, firstFailedAtMs?: number): StageResult<T> =>
  firstFailedAtMs === undefined ? { kind: 'retry', error } : { kind: 'retry', error, firstFailedAtMs }
export const deadLetter = <T = never>(error: BridgeError): StageResult<T> => ({ kind: 'dead-letter', error })
/** Permanent failure: errors topic, tracking row failed, Failed receipt to Genesys. */
export const fail = <T = never>(error: BridgeError): StageResult<T> => ({ kind: 'fail', error })
