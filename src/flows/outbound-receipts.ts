import { genesysReasonCodes, type GenesysReasonCode } from '../processors/types/genesys.js'
import type { GenesysOutboundEnvelope } from '../schemas/records.generated.js'
import type { ReceiptDebts } from '../sinks/db/owed-receipts.js'

/**
 * The agent's Failed receipts, at least once: the row's move to failed (or to dead-lettered with a
 * receipt) records the debt, and whoever handles the message next pays it (docs/reliability.md).
 */
export interface ReceiptPorts {
  /** Posts a Failed receipt to Genesys; throws when it should be tried again. */
  sendFailedReceipt: (
    tenantId: string,
    r: { messageId: string; toId: string; reason: GenesysReasonCode; text: string },
  ) => Promise<void>
  /** Failed receipts recorded as owed with the row's move, cleared once produced (owed-receipts.ts). */
  receipts: ReceiptDebts
}

/** Produces the Failed receipt the message's row owes, if any, then clears the debt. */
export async function payOwedReceipt(p: ReceiptPorts, env: GenesysOutboundEnvelope): Promise<void> {
  const ref = { tenantId: env.tenantId, messageId: env.messageId }
  const owed = await p.receipts.owed(ref)
  if (owed === undefined) return
  if (env.toId !== null) {
    await p.sendFailedReceipt(env.tenantId, {
      messageId: env.messageId,
      toId: env.toId,
      reason: asReasonCode(owed.reason),
      text: owed.text,
    })
  }
  await p.receipts.paid(ref)
}

/** The row stores the reason as text; a code this build does not know is sent as GeneralError. */
function asReasonCode(reason: string): GenesysReasonCode {
  return (genesysReasonCodes as readonly string[]).includes(reason) ? (reason as GenesysReasonCode) : 'GeneralError'
}
