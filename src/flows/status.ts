import type { JSONValue } from 'postgres'
import { Counter, type Registry } from 'prom-client'
import type { FlowHandler, StepTimer } from '../consumer/record-runner.js'
import { BridgeError, errorMessage } from '../errors.js'
import type { Logger } from '../log.js'
import type { Metrics } from '../metrics.js'
import { repeatableFailure } from '../processors/classify-failure.js'
import { drop, ok, retry, type StageResult } from '../processors/result.js'
import { receiptDueFor, receiptOfOwed, type OwedStatusReceipt } from '../processors/status-transition.js'
import type { GenesysReceipt } from '../processors/types/genesys.js'
import { callbackOfStatusItem } from '../processors/callback-data.js'
import type { WhatsAppStatusEnvelope } from '../schemas/records.generated.js'
import type { StatusInput, StatusOutcome, StatusReceiptRef } from '../sinks/db/delivery-statuses.js'
import type { PendingStatus } from '../sinks/db/pending-statuses.js'
import type { DeliveryStatus } from '../sinks/db/tracking-rows.js'
import type { MessageRef, SettleResult } from '../sinks/db/settlement.js'
import type { GenesysPostResult } from '../sinks/genesys-client.js'
import { settlementCounter } from './outbound-settlement.js'
import { deadLetterRecord, errorEvent, type CommonPorts } from './failure-events.js'

/** Everything the status flow talks to; the wiring passes the real sinks, tests may pass others. */
export interface StatusPorts extends CommonPorts {
  decode: (value: Buffer) => Promise<WhatsAppStatusEnvelope>
  /** The batched, monotonic status applier (one SQL statement per flush). */
  applyStatus: (s: StatusInput) => Promise<StatusOutcome>
  /**
   * A status whose wamid no row has names its message (callback data): record the wamid on that
   * message's row if its outcome is not known yet (see outbound-settlement.ts).
   */
  settleFromStatus: (ref: MessageRef & { wamid: string; at: Date; resend: boolean }) => Promise<SettleResult>
  /** Keeps a status whose send is not recorded yet (idempotent per wamid and status). */
  savePending: (p: { tenantId: string; wamid: string; status: DeliveryStatus; payload: JSONValue }) => Promise<void>
  postReceipt: (tenantId: string, body: GenesysReceipt) => Promise<GenesysPostResult>
  /** The owed receipt was taken (or refused for good) by Genesys: clear that debt (and no newer one). */
  clearOwedReceipt: (ref: StatusReceiptRef, paid: OwedStatusReceipt) => Promise<void>
  /** Attempt at which an unknown wamid is parked instead of retried (the earlier ones wait briefly). */
  parkAtAttempt: number
}

interface Prepared {
  env: WhatsAppStatusEnvelope
  status: DeliveryStatus | undefined
  error: { code?: number; title?: string; message?: string; details?: string } | undefined
}

const deliveryStatuses: readonly string[] = ['sent', 'delivered', 'read', 'failed']

/** Counts statuses parked in pending_statuses, re-driven from there, and expired there. */
export function pendingStatusCounter(registry: Registry): Counter<'event'> {
  const name = 'gwb_pending_statuses_total'
  const existing = registry.getSingleMetric(name)
  if (existing !== undefined) return existing as Counter<'event'>
  return new Counter({
    name,
    help: 'Statuses whose send was not recorded yet: parked, re-driven, expired',
    labelNames: ['event'],
    registers: [registry],
  })
}

/**
 * whatsapp-status → tracking (monotonic in SQL) → Genesys receipt (Delivered / Failed).
 *
 * Receipts are at least once: the status write records the receipt it calls for as owed on the row
 * in the same statement, and the receipt is cleared only once Genesys took it. Every attempt, and
 * every redelivery of the record or later status of the message, writes again (a no-op on a row
 * already moved) and pays whatever the row still owes (docs/reliability.md).
 *
 * A status can arrive before the outbound flow recorded the wamid (Meta answers the send and
 * reports `sent` within milliseconds). Such a status is retried once or twice with the runner's
 * backoff, then parked in pending_statuses; the pending sweeper (below) re-produces it onto this
 * topic as soon as the wamid is tracked, and drops it after the retention (Meta's send is
 * recorded within seconds, so a status parked for days belongs to a message we never sent).
 */
export function statusFlow(p: StatusPorts): FlowHandler<Prepared> {
  const pending = p.metrics === undefined ? undefined : pendingStatusCounter(p.metrics.registry)
  const settlement = p.metrics === undefined ? undefined : settlementCounter(p.metrics.registry)
  /** Records the wamid on the row the status's callback data names (same tenant only). */
  const settle = async (env: WhatsAppStatusEnvelope, stage: StepTimer): Promise<boolean> => {
    const ref = callbackOfStatusItem(env.item)
    // The webhook was signed with this tenant's app secret; its callback data may name no other tenant.
    if (ref === undefined || ref.tenantId !== env.tenantId) return false
    const r = await stage('settle', () =>
      p.settleFromStatus({ ...ref, wamid: env.wamid, at: new Date(env.timestampMs) }),
    )
    if (r.resentCopy) {
      // The residual risk of settlement, seen: Meta had the first send, its statuses came after the
      // window, and the resend went out too. Counted and logged; the copy's statuses are not tracked.
      settlement?.inc({ outcome: 'late_status_of_resent' })
      p.log.warn({ ...ref, wamid: env.wamid }, 'status of a message the bridge had resent: the customer got it twice')
    }
    return r.settled
  }

  return {
    flow: 'status',
    async decode(value) {
      const env = await p.decode(value)
      const status = deliveryStatuses.includes(env.status) ? (env.status as DeliveryStatus) : undefined
      return { env, status, error: firstError(env.item) }
    },

    async handle(prepared, attempt, record, stage) {
      const { env, status, error } = prepared
      if (status === undefined) return drop(`status ${env.status} is not tracked`)
      const apply = () =>
        stage('apply', () =>
          // Only rows of the tenant ingest resolved from the status's phone_number_id (and verified
          // with that tenant's app secret) are matched: another tenant's wamid is "not recorded".
          p.applyStatus({
            tenantId: env.tenantId,
            wamid: env.wamid,
            status,
            at: new Date(env.timestampMs),
            ...(error?.code === undefined ? {} : { errorCode: String(error.code) }),
            ...(status === 'failed' ? { errorText: errorText(error) } : {}),
            ...dueOf(status, env.timestampMs, error),
          }),
        )
      let outcome = await apply()
      if (!outcome.found && (await settle(env, stage))) outcome = await apply()
      if (!outcome.found) {
        if (attempt < p.parkAtAttempt) {
          return retry(new BridgeError('GWB_NO_MAPPING', `send of ${env.wamid} not recorded yet`, { canRetry: true }))
        }
        await stage('park', () =>
          p.savePending({
            tenantId: env.tenantId,
            wamid: env.wamid,
            status,
            payload: pendingPayload(env, record.topic),
          }),
        )
        pending?.inc({ event: 'parked' })
        return drop('send not recorded yet: parked in pending_statuses')
      }
      // What the row owes: this status's receipt, or an older one still unpaid (its process died,
      // or its record was dead-lettered while Genesys refused).
      const owed = outcome.receiptOwed
      if (owed === undefined || outcome.genesysMessageId === null) {
        return drop('no receipt owed (status unchanged or not reported to Genesys)')
      }
      const receipt = receiptOfOwed(owed, {
        genesysMessageId: outcome.genesysMessageId,
        toId: outcome.waId ?? env.waId,
      })
      const ref = { tenantId: env.tenantId, wamid: env.wamid }
      const res = await stage('receipt', () => p.postReceipt(env.tenantId, receipt))
      if (res.ok) {
        // Dying here (Genesys took it, the debt not cleared) sends it again: the one duplicate left.
        await stage('paid', () => p.clearOwedReceipt(ref, owed))
        p.metrics?.endToEnd.observe({ flow: 'status' }, (p.now() - env.receivedAtMs) / 1000)
        return ok(receipt.status)
      }
      const failure = receiptFailure(res)
      // Refused for good (not 429/5xx): it would be refused again, so no later status retries it.
      if (failure.kind === 'fail') await stage('paid', () => p.clearOwedReceipt(ref, owed))
      return failure
    },

    async onFail({ env }, error, record, attempts) {
      await p.publishError(
        errorEvent(record, error, { tenantId: env.tenantId, messageId: env.wamid }, attempts, p.now()),
      )
    },

    async onDeadLetter(prepared, error, record, attempts) {
      await p.publishDeadLetter(deadLetterRecord(record, error, prepared?.env.tenantId, attempts, p.now()))
    },
  }
}

/** The receipt this status calls for if it moves its row, for the status write to record as owed. */
function dueOf(status: DeliveryStatus, timestampMs: number, error: Prepared['error']): Pick<StatusInput, 'receiptDue'> {
  const due = receiptDueFor(status, { time: timestampMs, ...(error === undefined ? {} : { error }) })
  return due === undefined ? {} : { receiptDue: due }
}

function receiptFailure(res: Extract<GenesysPostResult, { ok: false }>): StageResult<never> {
  const text = `Genesys refused the receipt: HTTP ${res.status} ${res.error.message}`
  return repeatableFailure(res, { transient: 'GWB_GENESYS_TRANSIENT', permanent: 'GWB_GENESYS_PERMANENT' }, text)
}

function firstError(item: Buffer): Prepared['error'] {
  let parsed: unknown
  try {
    parsed = JSON.parse(item.toString('utf8'))
  } catch {
    return undefined
  }
  const errors = (parsed as { errors?: unknown } | null)?.errors
  if (!Array.isArray(errors)) return undefined
  const e: unknown = errors[0]
  if (typeof e !== 'object' || e === null) return undefined
  const r = e as Record<string, unknown>
  const data = r['error_data']
  const details = typeof data === 'object' && data !== null ? (data as Record<string, unknown>)['details'] : undefined
  const out: NonNullable<Prepared['error']> = {}
  if (typeof r['code'] === 'number') out.code = r['code']
  if (typeof r['title'] === 'string') out.title = r['title']
  if (typeof r['message'] === 'string') out.message = r['message']
  if (typeof details === 'string') out.details = details
  return out
}

function errorText(e: Prepared['error']): string {
  return e?.details || e?.message || e?.title || 'reported as failed'
}

// ---------------------------------------------------------------------------------------------------
// Pending statuses

/**
 * The parked envelope, so the sweeper can put it back exactly as it came, and the topic it came
 * from: installs sharing one database (topic prefixes) each re-drive only their own.
 */
function pendingPayload(env: WhatsAppStatusEnvelope, topic: string): JSONValue {
  return {
    topic,
    tenantId: env.tenantId,
    phoneNumberId: env.phoneNumberId,
    waId: env.waId,
    wamid: env.wamid,
    status: env.status,
    timestampMs: env.timestampMs,
    receivedAtMs: env.receivedAtMs,
    item: env.item.toString('utf8'),
    attempt: env.attempt,
  }
}

export function envelopeOfPending(p: PendingStatus): WhatsAppStatusEnvelope | undefined {
  const v = p.payload
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined
  const o = v as Record<string, unknown>
  const s = (k: string): string | undefined => (typeof o[k] === 'string' ? o[k] : undefined)
  const n = (k: string): number | undefined => (typeof o[k] === 'number' ? o[k] : undefined)
  // The row's tenant (the key it was parked under), not a copy inside the payload.
  const tenantId = p.tenantId
  const phoneNumberId = s('phoneNumberId')
  const waId = s('waId')
  const item = s('item')
  const timestampMs = n('timestampMs')
  if (tenantId === '' || phoneNumberId === undefined || waId === undefined || item === undefined) return
  if (timestampMs === undefined) return undefined
  return {
    tenantId,
    phoneNumberId,
    waId,
    wamid: p.wamid,
    status: p.status,
    timestampMs,
    receivedAtMs: n('receivedAtMs') ?? p.receivedAt.getTime(),
    item: Buffer.from(item, 'utf8'),
    attempt: (n('attempt') ?? 0) + 1,
  }
}

export interface PendingSweeperPorts {
  /** Removes and returns this topic's parked statuses whose wamid is tracked now (at most `limit`). */
  takeReady: (limit: number) => Promise<PendingStatus[]>
  /** Puts statuses back (a re-produce that failed). */
  restore: (items: PendingStatus[]) => Promise<void>
  /** Drops statuses parked before the cut-off; returns how many. */
  expire: (olderThan: Date) => Promise<number>
  /** Produces onto the status topic; resolves once Kafka acknowledged. */
  republish: (key: string, env: WhatsAppStatusEnvelope) => Promise<void>
  intervalMs: number
  maxAgeMs: number
  now: () => number
  log: Logger
  metrics?: Metrics
}

/**
 * Every few seconds: parked statuses whose send is recorded now go back onto the status topic (so
 * receipts, retries and dead letters work as for any status), and those older than the retention
 * are dropped. Safe with several status processes: taking is a DELETE … RETURNING, so each row
 * goes to one of them.
 */
export function startPendingSweeper(p: PendingSweeperPorts): { stop: () => Promise<void> } {
  const counter = p.metrics === undefined ? undefined : pendingStatusCounter(p.metrics.registry)
  let running: Promise<void> | undefined
  let stopped = false
  const sweep = async (): Promise<void> => {
    const ready = await p.takeReady(500)
    const republished: PendingStatus[] = []
    try {
      for (const item of ready) {
        const env = envelopeOfPending(item)
        if (env === undefined) {
          p.log.warn({ wamid: item.wamid }, 'unreadable pending status dropped')
          continue
        }
        await p.republish(`${env.tenantId}:${env.waId}`, env)
        republished.push(item)
        counter?.inc({ event: 'redriven' })
      }
    } catch (err) {
      await p.restore(ready.filter((r) => !republished.includes(r)))
      throw err
    }
    const expired = await p.expire(new Date(p.now() - p.maxAgeMs))
    if (expired > 0) {
      counter?.inc({ event: 'expired' }, expired)
      p.log.warn({ expired }, 'pending statuses expired without a recorded send')
    }
  }
  const timer = setInterval(() => {
    if (running !== undefined || stopped) return
    running = sweep()
      .catch((err: unknown) => p.log.warn({ err: errorMessage(err) }, 'pending status sweep failed'))
      .finally(() => {
        running = undefined
      })
  }, p.intervalMs)
  timer.unref()
  return {
    async stop() {
      stopped = true
      clearInterval(timer)
      await running
    },
  }
}
