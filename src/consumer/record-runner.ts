import type { IHeaders } from 'kafkajs'
import { BridgeError, errorMessage, isBridgeError } from '../errors.js'
import type { Logger } from '../log.js'
import type { Metrics } from '../metrics.js'
import { backoffDelay } from '../processors/backoff.js'
import type { StageResult } from '../processors/result.js'
import { annotateActive, idAttributes, inSpan, markOutcome } from '../tracing/spans.js'
import { inRecordSpan } from './record-span.js'

export interface RecordMeta {
  readonly topic: string
  readonly partition: number
  readonly offset: number
  readonly key: Buffer | null
  readonly value: Buffer | null
  /** The record's Kafka headers; `traceparent` there continues the producer's trace. */
  readonly headers?: IHeaders
}

/** One flow (outbound, inbound, status, archive): how to read a record and what to do with it. */
export interface FlowHandler<T> {
  readonly flow: string
  decode: (value: Buffer) => Promise<T>
  /** The part of a decoded record whose tenantId, messageId and wamid name it on trace spans (default: all of it). */
  traceIds?: (msg: T) => unknown
  /** Records with the same ordering key run one at a time, in offset order. */
  orderingKey: (record: RecordMeta, decoded: T | undefined) => string
  /** Attempt counter comes in so a stage can tell a first try from a retry. */
  handle: (msg: T, attempt: number, record: RecordMeta) => Promise<StageResult<unknown>>
  /** A permanent failure: errors topic, tracking, Failed receipt. Throws only for infrastructure. */
  onFail: (msg: T, error: BridgeError, record: RecordMeta, attempts: number) => Promise<void>
  /** Retries exhausted or the record is unreadable: the dead-letter topic. */
  onDeadLetter: (msg: T | undefined, error: BridgeError, record: RecordMeta, attempts: number) => Promise<void>
}

export interface RunnerOptions {
  maxAttempts: number
  retryBaseMs: number
  retryMaxMs: number
  /** Delay cap while infrastructure (database, Kafka) is down and nothing is committed. */
  unknownErrorMaxMs: number
  random?: () => number
}

export type RunOutcome = 'done' | 'abandoned'

/** Resolves after `ms`, or early (false) when the signal aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false)
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort)
      resolve(true)
    }, ms)
    const onAbort = (): void => {
      clearTimeout(t)
      resolve(false)
    }
    signal.addEventListener('abort', onAbort, { once: true })
  })
}

/**
 * The one place that catches. Expected outcomes come back as StageResults and decide retry,
 * dead-letter or failure receipt; a thrown error is unknown (database down, a bug) and is retried
 * with backoff for as long as it takes, without finishing the record, so its offset is never
 * committed. `abandoned` means shutdown came first: the record will be read again by the next owner.
 */
export function runRecord<T>(
  handler: FlowHandler<T>,
  record: RecordMeta,
  opts: RunnerOptions,
  deps: { log: Logger; metrics: Metrics | undefined; signal: AbortSignal },
): Promise<RunOutcome> {
  return inRecordSpan(handler.flow, record, () => runSteps(handler, record, opts, deps))
}

async function runSteps<T>(
  handler: FlowHandler<T>,
  record: RecordMeta,
  opts: RunnerOptions,
  deps: { log: Logger; metrics: Metrics | undefined; signal: AbortSignal },
): Promise<RunOutcome> {
  const { log, metrics, signal } = deps
  const random = opts.random ?? Math.random
  const count = (outcome: string): void => metrics?.outcomes.inc({ flow: handler.flow, outcome })
  let unknownFailures = 0

  // Infrastructure steps (dead-letter produce, receipts) must happen; retry them until they do.
  const must = async (what: string, fn: () => Promise<void>): Promise<boolean> => {
    for (let n = 1; ; n++) {
      try {
        await inSpan(what, {}, fn)
        return true
      } catch (err) {
        log.warn({ err: errorMessage(err), offset: record.offset, what }, 'step failed, retrying')
        const ms = backoffDelay(n, { baseMs: opts.retryBaseMs, maxMs: opts.unknownErrorMaxMs, jitter: 0.5 }, random)
        if (!(await sleep(ms, signal))) return false
      }
    }
  }

  let decoded: T
  for (let n = 1; ; n++) {
    try {
      if (record.value === null) throw new BridgeError('GWB_DECODE', 'record has no value (tombstone)')
      const value = record.value
      decoded = await inSpan('decode', {}, () => handler.decode(value))
      break
    } catch (err) {
      // The registry away is an outage: hold the offset and try again. Anything else that stops a
      // record from decoding is poison: dead-letter it and move on.
      if (isBridgeError(err) && err.canRetry) {
        log.warn({ err: err.message, offset: record.offset }, 'cannot decode yet, offset held')
        const ms = backoffDelay(n, { baseMs: opts.retryBaseMs, maxMs: opts.unknownErrorMaxMs, jitter: 0.5 }, random)
        if (!(await sleep(ms, signal))) return 'abandoned'
        continue
      }
      const error = isBridgeError(err) ? err : new BridgeError('GWB_DECODE', errorMessage(err), { cause: err })
      count('dead-letter')
      return (await must('dead-letter', () => handler.onDeadLetter(undefined, error, record, 0))) ? 'done' : 'abandoned'
    }
  }

  const ids = idAttributes(handler.traceIds ? handler.traceIds(decoded) : decoded)
  annotateActive(ids)
  for (let attempt = 1; ;) {
    let result: StageResult<unknown>
    try {
      result = await inSpan(
        `${handler.flow} handle`,
        { attributes: { ...ids, 'gwb.attempt': attempt } },
        async (span) => {
          const r = await handler.handle(decoded, attempt, record)
          markOutcome(span, r.kind, r.kind === 'ok' || r.kind === 'drop' ? undefined : r.error.code)
          return r
        },
      )
      unknownFailures = 0
    } catch (err) {
      unknownFailures++
      count('error')
      log.error(
        { err: errorMessage(err), code: isBridgeError(err) ? err.code : undefined, offset: record.offset },
        'unexpected error, offset held',
      )
      const ms = backoffDelay(
        unknownFailures,
        { baseMs: opts.retryBaseMs, maxMs: opts.unknownErrorMaxMs, jitter: 0.5 },
        random,
      )
      if (!(await sleep(ms, signal))) return 'abandoned'
      continue
    }
    switch (result.kind) {
      case 'ok':
      case 'drop':
        count(result.kind)
        return 'done'
      case 'retry': {
        metrics?.retries.inc({ flow: handler.flow, code: result.error.code })
        if (attempt >= opts.maxAttempts) {
          count('dead-letter')
          const ok = await must('dead-letter', () => handler.onDeadLetter(decoded, result.error, record, attempt))
          return ok ? 'done' : 'abandoned'
        }
        const delay = backoffDelay(
          attempt,
          { baseMs: opts.retryBaseMs, maxMs: opts.retryMaxMs, jitter: 0.5, retryAfterMs: result.error.retryAfterMs },
          random,
        )
        if (!(await sleep(delay, signal))) return 'abandoned'
        attempt++
        continue
      }
      case 'dead-letter': {
        count('dead-letter')
        const ok = await must('dead-letter', () => handler.onDeadLetter(decoded, result.error, record, attempt))
        return ok ? 'done' : 'abandoned'
      }
      case 'fail': {
        count('fail')
        const ok = await must('failure', () => handler.onFail(decoded, result.error, record, attempt))
        return ok ? 'done' : 'abandoned'
      }
    }
  }
}
