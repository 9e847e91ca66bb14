import { BridgeError, errorMessage, isBridgeError } from '../errors.js'
import type { Logger } from '../log.js'
import type { Metrics } from '../metrics.js'
import type { StageResult } from '../processors/result.js'
import { Retrier, retryUntil } from '../retry.js'
import { annotateActive, idAttributes, inSpan, markOutcome } from '../tracing/spans.js'
import type { RecordHeaders } from '../sinks/kafka/trace-headers.js'
import { inRecordSpan } from './record-span.js'

export interface RecordMeta {
  readonly topic: string
  readonly partition: number
  readonly offset: number
  readonly key: Buffer | null
  readonly value: Buffer | null
  /** The record's Kafka headers; `traceparent` there continues the producer's trace. */
  readonly headers?: RecordHeaders | undefined
}

/** One flow (outbound, inbound, status, archive): how to read a record and what to do with it. */
export interface FlowHandler<T> {
  readonly flow: string
  decode: (value: Buffer) => Promise<T>
  /** The part of a decoded record whose tenantId, messageId and wamid name it on spans (default: all). */
  traceIds?: (msg: T) => unknown
  /**
   * Attempt counter comes in so a stage can tell a first try from a retry; `step` times each named
   * step. Records run one at a time per Kafka key (the conversation), in offset order. `signal`
   * aborts at shutdown: a step that waits (settlement) ends then and returns a retry, which the
   * runner abandons without finishing the record.
   */
  handle: (
    msg: T,
    attempt: number,
    record: RecordMeta,
    step: StepTimer,
    signal?: AbortSignal,
  ) => Promise<StageResult<unknown>>
  /** A permanent failure: errors topic, tracking, Failed receipt. Throws only for infrastructure. */
  onFail: (msg: T, error: BridgeError, record: RecordMeta, attempts: number) => Promise<void>
  /** Retries exhausted or the record is unreadable: the dead-letter topic. */
  onDeadLetter: (msg: T | undefined, error: BridgeError, record: RecordMeta, attempts: number) => Promise<void>
}

export interface RunnerOptions {
  /** Attempts of a retryable outcome before the dead-letter topic (0: no limit, time is the ceiling). */
  maxAttempts: number
  retryBaseMs: number
  retryMaxMs: number
  /** Time from a record's first attempt after which a retryable outcome dead-letters. */
  retryMaxDurationMs: number
  /** Delay cap while infrastructure (database, Kafka) is down and nothing is committed. */
  unknownErrorMaxMs: number
  random?: () => number
  now?: () => number
}

export type RunOutcome = 'done' | 'abandoned'

/** Times one step of a flow by its name (gwb_stage_duration_seconds{flow,stage}), in a span of its own. */
export type StepTimer = <T>(name: string, fn: () => Promise<T>) => Promise<T>

export function stepTimer(metrics: Metrics | undefined, flow: string): StepTimer {
  return async (name, fn) => {
    const end = metrics?.stageDuration.startTimer({ flow, stage: name })
    try {
      return await inSpan(`${flow} ${name}`, {}, fn)
    } finally {
      end?.()
    }
  }
}

/** For callers outside the runner (unit tests of a flow) that time nothing. */
export const untimed: StepTimer = (_name, fn) => fn()

/**
 * The one place that catches. Expected outcomes come back as StageResults and decide retry,
 * dead-letter or failure receipt; a thrown error is unknown (database down, a bug) and is retried
 * with backoff for as long as it takes, without finishing the record, so its offset is never
 * committed. A retryable outcome is retried in place (so the record's key, its conversation, waits
 * behind it) until RETRY_MAX_DURATION_MS from its first attempt (or from the first failure its row
 * records, when the flow reports one), then dead-lettered. `abandoned`
 * means shutdown came first: the record will be read again by the next owner.
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
  const clock = { signal, ...(opts.random ? { random: opts.random } : {}), ...(opts.now ? { now: opts.now } : {}) }
  const count = (outcome: string): void => metrics?.outcomes.inc({ flow: handler.flow, outcome })
  const step = stepTimer(metrics, handler.flow)
  // Infrastructure (database, Kafka, registry) away: hold the offset and try again until shutdown.
  const untilShutdown = { baseMs: opts.retryBaseMs, maxMs: opts.unknownErrorMaxMs, maxDurationMs: Infinity }

  // Infrastructure steps (dead-letter produce, receipts) must happen; retry them until they do.
  const must = async (what: string, fn: () => Promise<void>): Promise<RunOutcome> => {
    const r = await retryUntil(() => inSpan(what, {}, fn), untilShutdown, {
      ...clock,
      onError: (err) => log.warn({ err: errorMessage(err), offset: record.offset, what }, 'step failed, retrying'),
    })
    return r.ok ? 'done' : 'abandoned'
  }

  // The registry away is an outage: hold the offset and try again. Anything else that stops a
  // record from decoding is poison: dead-letter it and move on.
  let decoded: T
  try {
    const r = await retryUntil(
      () => {
        const value = record.value
        if (value === null) throw new BridgeError('GWB_DECODE', 'record has no value (tombstone)')
        return inSpan('decode', {}, () => handler.decode(value))
      },
      untilShutdown,
      {
        ...clock,
        retryable: (err) => isBridgeError(err) && err.canRetry,
        onError: (err) => log.warn({ err: errorMessage(err), offset: record.offset }, 'cannot decode yet, offset held'),
      },
    )
    if (!r.ok) return 'abandoned'
    decoded = r.value
  } catch (err) {
    const error = isBridgeError(err) ? err : new BridgeError('GWB_DECODE', errorMessage(err), { cause: err })
    count('dead-letter')
    return must('dead-letter', () => handler.onDeadLetter(undefined, error, record, 0))
  }

  const ids = idAttributes(handler.traceIds ? handler.traceIds(decoded) : decoded)
  annotateActive(ids)
  const retries = new Retrier(
    {
      baseMs: opts.retryBaseMs,
      maxMs: opts.retryMaxMs,
      maxDurationMs: opts.retryMaxDurationMs,
      maxAttempts: opts.maxAttempts,
    },
    clock,
  )
  let unknown: Retrier | undefined
  for (;;) {
    let result: StageResult<unknown>
    try {
      const attempt = retries.attempt
      result = await inSpan(
        `${handler.flow} handle`,
        { attributes: { ...ids, 'gwb.attempt': attempt } },
        async (span) => {
          const r = await handler.handle(decoded, attempt, record, step, signal)
          markOutcome(span, r.kind, r.kind === 'ok' || r.kind === 'drop' ? undefined : r.error.code)
          return r
        },
      )
      unknown = undefined
    } catch (err) {
      count('error')
      log.error(
        { err: errorMessage(err), code: isBridgeError(err) ? err.code : undefined, offset: record.offset },
        'unexpected error, offset held',
      )
      unknown ??= new Retrier(untilShutdown, clock)
      if ((await unknown.wait()) !== 'again') return 'abandoned'
      continue
    }
    switch (result.kind) {
      case 'ok':
      case 'drop':
        count(result.kind)
        return 'done'
      case 'retry': {
        metrics?.retries.inc({ flow: handler.flow, code: result.error.code })
        if (result.firstFailedAtMs !== undefined) retries.countFrom(result.firstFailedAtMs)
        const next = await retries.wait(result.error.retryAfterMs)
        if (next === 'aborted') return 'abandoned'
        if (next === 'again') continue
        count('dead-letter')
        const error = exhausted(result.error, retries)
        return must('dead-letter', () => handler.onDeadLetter(decoded, error, record, retries.attempt))
      }
      case 'dead-letter':
        count('dead-letter')
        return must('dead-letter', () => handler.onDeadLetter(decoded, result.error, record, retries.attempt))
      case 'fail':
        count('fail')
        return must('failure', () => handler.onFail(decoded, result.error, record, retries.attempt))
    }
  }
}

/** The last retryable error, saying how long and how often it was tried, for the dead letter. */
function exhausted(error: BridgeError, r: Retrier): BridgeError {
  return new BridgeError(error.code, `${error.message} (retried ${r.attempt} times over ${r.elapsedMs} ms)`, {
    canRetry: true,
    cause: error,
    details: { ...error.details, attempts: r.attempt, retriedForMs: r.elapsedMs },
  })
}
