import { deliveredReceipt, failedReceipt } from './build-receipt.js'
import { receiptReasonForMetaCode } from './classify-meta-error.js'
import { genesysReasonCodes, type GenesysReasonCode, type GenesysReceipt } from './types/genesys.js'
import type { MetaStatusValue } from './types/meta.js'

/** Status of an outbound tracking row; `pending` = claimed, not yet accepted by Meta. */
export type TrackingStatus = 'pending' | MetaStatusValue

const rank: Record<TrackingStatus, number> = { pending: 0, sent: 1, delivered: 2, read: 3, failed: 4 }

export interface Transition {
  apply: boolean
  /** The status after this webhook: the incoming one when applied, else the current one. */
  status: TrackingStatus
}

/**
 * Statuses arrive out of order and more than once (facts §4.2): a status applies only if it moves
 * the row forward. failed is terminal; read is too in practice — a message the customer has read
 * was delivered, so a later failed would only mislead the agent.
 */
export function nextStatus(current: TrackingStatus | undefined, incoming: MetaStatusValue): Transition {
  if (current === undefined) return { apply: true, status: incoming }
  const forward = current !== 'failed' && current !== 'read' && rank[incoming] > rank[current]
  return forward ? { apply: true, status: incoming } : { apply: false, status: current }
}

export interface StatusReceiptContext {
  genesysMessageId: string
  toId: string
  /** Unix ms or ISO of the status. */
  time: number | string
  /** errors[0] of a failed status. */
  error?: { code?: number; title?: string; message?: string; details?: string }
}

/**
 * A receipt the status flow owes Genesys, as the row keeps it from the status write until Genesys
 * took it (message_tracking.status_receipt_owed, migration 0007). The message's Genesys id and
 * customer are the row's own; this holds what only the status knew.
 */
export interface OwedStatusReceipt {
  status: 'Delivered' | 'Failed'
  /** ISO-8601 time of the status that called for it. */
  time: string
  /** Failed only. */
  reason?: GenesysReasonCode
  /** Failed only: the reason's message. */
  message?: string
}

/**
 * The receipt a status calls for if it moves its row forward (facts §5), or undefined. Genesys
 * accepts only Delivered and Failed, so sent gives none and read counts as Delivered. Whether the
 * row does move, and the one case that depends on where it was (read after delivered gives none),
 * is decided in the status write's SQL (delivery-statuses.ts), which records this as owed.
 */
export function receiptDueFor(
  incoming: MetaStatusValue,
  ctx: Pick<StatusReceiptContext, 'time' | 'error'>,
): OwedStatusReceipt | undefined {
  const time = isoTime(ctx.time)
  switch (incoming) {
    case 'sent':
      return undefined
    case 'delivered':
    case 'read':
      return { status: 'Delivered', time }
    case 'failed': {
      const e = ctx.error
      const text = e?.details || e?.message || e?.title || 'reported as failed'
      const message = e?.code === undefined ? `WhatsApp: ${text}` : `WhatsApp ${e.code}: ${text}`
      return { status: 'Failed', time, reason: receiptReasonForMetaCode(e?.code, e?.details), message }
    }
  }
}

/** The Genesys receipt body of an owed receipt, for the row's message and customer. */
export function receiptOfOwed(
  owed: OwedStatusReceipt,
  ctx: { genesysMessageId: string; toId: string },
): GenesysReceipt {
  const c = { ...ctx, time: owed.time }
  return owed.status === 'Delivered'
    ? deliveredReceipt(c)
    : failedReceipt(c, owed.reason ?? 'GeneralError', owed.message ?? '')
}

/** The stored debt back from its jsonb column; undefined for none (or a shape this build cannot read). */
export function owedStatusReceiptOf(v: unknown): OwedStatusReceipt | undefined {
  if (typeof v !== 'object' || v === null) return undefined
  const o = v as Record<string, unknown>
  if ((o['status'] !== 'Delivered' && o['status'] !== 'Failed') || typeof o['time'] !== 'string') return undefined
  const out: OwedStatusReceipt = { status: o['status'], time: o['time'] }
  const reason = o['reason']
  if (typeof reason === 'string') {
    // A code this build does not know is sent as GeneralError.
    out.reason = (genesysReasonCodes as readonly string[]).includes(reason)
      ? (reason as GenesysReasonCode)
      : 'GeneralError'
  }
  if (typeof o['message'] === 'string') out.message = o['message']
  return out
}

/**
 * The Genesys receipt a status webhook calls for given the row's previous status, or undefined:
 * the rule the status write applies in SQL, in one place for reading and testing.
 */
export function receiptForStatus(
  incoming: MetaStatusValue,
  previous: TrackingStatus | undefined,
  ctx: StatusReceiptContext,
): GenesysReceipt | undefined {
  if (!nextStatus(previous, incoming).apply) return undefined
  if (incoming === 'read' && previous === 'delivered') return undefined
  const due = receiptDueFor(incoming, ctx)
  return due === undefined ? undefined : receiptOfOwed(due, ctx)
}

function isoTime(time: number | string): string {
  const d = new Date(time)
  // An unparseable time must not throw inside a stage; epoch 0 makes the defect visible downstream.
  return Number.isNaN(d.getTime()) ? new Date(0).toISOString() : d.toISOString()
}
