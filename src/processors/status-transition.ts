import { deliveredReceipt, failedReceipt } from './build-receipt.js'
import { receiptReasonForMetaCode } from './classify-meta-error.js'
import type { GenesysReceipt } from './types/genesys.js'
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
 * The Genesys receipt a status webhook calls for (facts §5), or undefined. Genesys accepts only
 * Delivered and Failed, so sent gives none and read counts as Delivered when no delivered was seen.
 */
export function receiptForStatus(
  incoming: MetaStatusValue,
  previous: TrackingStatus | undefined,
  ctx: StatusReceiptContext,
): GenesysReceipt | undefined {
  if (!nextStatus(previous, incoming).apply) return undefined
  switch (incoming) {
    case 'sent':
      return undefined
    case 'delivered':
      return deliveredReceipt(ctx)
    case 'read':
      return previous === 'delivered' ? undefined : deliveredReceipt(ctx)
    case 'failed': {
      const e = ctx.error
      const text = e?.details || e?.message || e?.title || 'reported as failed'
      const message = e?.code === undefined ? `WhatsApp: ${text}` : `WhatsApp ${e.code}: ${text}`
      return failedReceipt(ctx, receiptReasonForMetaCode(e?.code, e?.details), message)
    }
  }
}
