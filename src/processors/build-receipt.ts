import type { BridgeError } from '../errors.js'
import { genesysReasonCodes, type GenesysIdType, type GenesysReasonCode, type GenesysReceipt } from './types/genesys.js'

export interface ReceiptContext {
  /** The Genesys webhook `id` of the outbound message (never the wamid). */
  genesysMessageId: string
  /** The customer id Genesys knows (channel.to.id of the outbound message). */
  toId: string
  idType?: GenesysIdType
  /** When it happened: Unix ms or an ISO-8601 string. */
  time: number | string
}

/** Genesys stores the text in errorInfo; its length limit is undocumented, so keep it modest. */
const maxReasonMessage = 1000

export function deliveredReceipt(ctx: ReceiptContext): GenesysReceipt {
  // Not final: a later Failed (rare, but Meta can report it) must still be accepted.
  return { ...head(ctx), status: 'Delivered', direction: 'Outbound', isFinalReceipt: false }
}

export function failedReceipt(ctx: ReceiptContext, code: GenesysReasonCode, message: string): GenesysReceipt {
  // Genesys rejects a reason without a message, so an empty one falls back to the code.
  const text = message.trim() === '' ? code : message.slice(0, maxReasonMessage)
  return {
    ...head(ctx),
    status: 'Failed',
    direction: 'Outbound',
    isFinalReceipt: true,
    reasons: [{ code, message: text }],
  }
}

/** Failed receipt for a message that failed before or at the send (no mapping, bad content, Meta refusal). */
export function failedReceiptForError(ctx: ReceiptContext, err: BridgeError): GenesysReceipt {
  return failedReceipt(ctx, receiptReasonForError(err), err.message)
}

/**
 * Reason for a bridge-side failure. A stage may name the reason itself in `details.receiptReason`
 * (the Meta classifier's mapping, a too-long text); otherwise the error code decides.
 */
export function receiptReasonForError(err: BridgeError): GenesysReasonCode {
  const named = err.details.receiptReason
  if (typeof named === 'string' && (genesysReasonCodes as readonly string[]).includes(named)) {
    return named as GenesysReasonCode
  }
  switch (err.code) {
    case 'GWB_NO_MAPPING':
      return 'InvalidDestination'
    case 'GWB_UNSUPPORTED_CONTENT':
      return 'UnsupportedMessage'
    case 'GWB_BAD_REQUEST':
      return 'InvalidMessageStructure'
    case 'GWB_META_RATE_LIMIT':
      return 'RateLimited'
    case 'GWB_META_TRANSIENT':
    case 'GWB_GENESYS_TRANSIENT':
      return 'ServerError'
    default:
      return 'GeneralError'
  }
}

function head(ctx: ReceiptContext): Pick<GenesysReceipt, 'id' | 'channel'> {
  return {
    id: ctx.genesysMessageId,
    channel: { to: { id: ctx.toId, idType: ctx.idType ?? 'Phone' }, time: isoTime(ctx.time) },
  }
}

function isoTime(time: number | string): string {
  const d = new Date(time)
  // An unparseable time must not throw inside a stage; epoch 0 makes the defect visible downstream.
  return Number.isNaN(d.getTime()) ? new Date(0).toISOString() : d.toISOString()
}
