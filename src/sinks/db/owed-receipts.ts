import type { Sql } from './client.js'
import type { MessageRef } from './settlement.js'

/**
 * Failed receipts owed to agents (issue 12). The move of an outbound row to failed (or to
 * dead-lettered with a receipt) records the debt in the same statement (tracking-outcomes.ts); the
 * flow produces the receipt, then clears the debt. A process dying in between leaves the debt on the
 * row, and the redelivered record pays it, so a Failed receipt is produced at least once.
 */

export interface OwedReceipt {
  /** The Genesys reason code the receipt carries. */
  reason: string
  /** The failure's text, as the row recorded it with the move. */
  text: string
}

export interface ReceiptDebts {
  /** The Failed receipt this message's row owes its agent, if any. */
  owed: (ref: MessageRef) => Promise<OwedReceipt | undefined>
  /** The receipt was produced: nothing is owed any more. */
  paid: (ref: MessageRef) => Promise<void>
}

export function createReceiptDebts(sql: Sql): ReceiptDebts {
  return {
    async owed(ref) {
      const [row] = await sql<{ reason: string; text: string | null }[]>`
        select receipt_owed as reason, error_text as text from message_tracking
        where direction = 'outbound' and tenant_id = ${ref.tenantId} and genesys_message_id = ${ref.messageId}
          and receipt_owed is not null and status in ('failed', 'dead_lettered')`
      return row === undefined ? undefined : { reason: row.reason, text: row.text ?? '' }
    },
    async paid(ref) {
      await sql`
        update message_tracking set receipt_owed = null
        where direction = 'outbound' and tenant_id = ${ref.tenantId} and genesys_message_id = ${ref.messageId}
          and receipt_owed is not null`
    },
  }
}
