import { createBatcher, type Batcher } from '../../batcher.js'
import { owedStatusReceiptOf, type OwedStatusReceipt } from '../../processors/status-transition.js'
import type { Sql } from './client.js'
import { rowKey, type BatchOptions, type DeliveryStatus, type TrackingStatus } from './tracking-rows.js'

// Delivery statuses (outbound messages only: Meta reports statuses of what the business sent)

export interface StatusInput {
  /** The tenant ingest resolved from the status's phone_number_id: only its rows are matched. */
  tenantId: string
  wamid: string
  status: DeliveryStatus
  at: Date
  errorCode?: string
  errorText?: string
  /**
   * The receipt this status calls for if it moves the row (receiptDueFor). Recorded as owed in the
   * same statement as the move, so a crash before Genesys took it cannot lose it.
   */
  receiptDue?: OwedStatusReceipt
}

export interface StatusReceiptRef {
  tenantId: string
  wamid: string
}

export interface StatusOutcome {
  /** false: no outbound row has this wamid (yet); keep it with savePendingStatus. */
  found: boolean
  /** true only when the status moved forward; a Genesys receipt is due only then. */
  changed: boolean
  previous: TrackingStatus | null
  current: TrackingStatus | null
  tenantId: string | null
  genesysMessageId: string | null
  waId: string | null
  conversationId: string | null
  /**
   * The receipt the row owes after this write: the one this status just recorded, or one an
   * earlier status recorded and nobody paid yet (a crash, a dead letter). Pay it, then clearOwedStatusReceipt.
   */
  receiptOwed: OwedStatusReceipt | undefined
}

interface StatusRow {
  key_tenant: string
  wamid: string
  previous: TrackingStatus | null
  current: TrackingStatus | null
  tenant_id: string | null
  genesys_message_id: string | null
  wa_id: string | null
  conversation_id: string | null
  receipt_owed: unknown
}

/**
 * Applies statuses monotonically in SQL (gwb_status_rank: sent < delivered < read; failed ranks with
 * read, so both are terminal). Missing timestamps are filled even when the status does not move
 * (a late 'sent' still records sent_at), but failed_at and the error only come with the move to failed.
 * One statement per round; a round holds each wamid at most once so repeated wamids in one batch
 * apply in order instead of racing inside one UPDATE.
 *
 * The same statement records the receipt the move calls for as owed (status_receipt_owed): only
 * when the status moves the row, the row names a Genesys message, and it is not a read after
 * delivered (Delivered was owed or sent then; Genesys takes no Read). A newer status's receipt
 * replaces an unpaid older one (Failed after an unpaid Delivered: the agent is told the final state).
 */
export async function applyStatuses(sql: Sql, items: StatusInput[]): Promise<StatusOutcome[]> {
  const results: StatusOutcome[] = new Array<StatusOutcome>(items.length)
  let rest = items.map((item, index) => ({ item, index }))
  while (rest.length > 0) {
    const seen = new Set<string>()
    const round: typeof rest = []
    const later: typeof rest = []
    for (const e of rest) {
      const key = rowKey(e.item.tenantId, e.item.wamid)
      if (seen.has(key)) later.push(e)
      else {
        seen.add(key)
        round.push(e)
      }
    }
    const rows = await applyRound(
      sql,
      round.map((e) => e.item),
    )
    const byRow = new Map(rows.map((r) => [rowKey(r.key_tenant, r.wamid), r]))
    for (const { item, index } of round) {
      const r = byRow.get(rowKey(item.tenantId, item.wamid))
      const found = r !== undefined && r.current !== null
      results[index] = {
        found,
        changed: found && r.previous !== r.current,
        previous: r?.previous ?? null,
        current: r?.current ?? null,
        tenantId: r?.tenant_id ?? null,
        genesysMessageId: r?.genesys_message_id ?? null,
        waId: r?.wa_id ?? null,
        conversationId: r?.conversation_id ?? null,
        receiptOwed: found ? owedStatusReceiptOf(r.receipt_owed) : undefined,
      }
    }
    rest = later
  }
  return results
}

async function applyRound(sql: Sql, items: StatusInput[]): Promise<StatusRow[]> {
  return sql<StatusRow[]>`
    with v as (
      select * from unnest(
        ${items.map((i) => i.tenantId)}::text[],
        ${items.map((i) => i.wamid)}::text[],
        ${items.map((i) => i.status)}::text[],
        ${items.map((i) => i.at.toISOString())}::timestamptz[],
        ${items.map((i) => i.errorCode ?? null)}::text[],
        ${items.map((i) => i.errorText ?? null)}::text[],
        ${items.map((i) => (i.receiptDue === undefined ? null : JSON.stringify(i.receiptDue)))}::text[]
      ) as v(tenant_id, wamid, status, at, error_code, error_text, receipt_due)
    ),
    old as (
      -- Locks the rows and captures the status before the update (same snapshot as the UPDATE below).
      select m.id, m.status as previous
      from message_tracking m join v on m.tenant_id = v.tenant_id and m.direction = 'outbound' and m.wamid = v.wamid
      -- Locks are taken in id order so two concurrent batches cannot deadlock on the same rows.
      order by m.id
      for update of m
    ),
    upd as (
      update message_tracking m set
        status = case when gwb_status_rank(v.status) > gwb_status_rank(m.status) then v.status else m.status end,
        sent_at = case when v.status = 'sent' then coalesce(m.sent_at, v.at) else m.sent_at end,
        delivered_at = case when v.status = 'delivered' then coalesce(m.delivered_at, v.at) else m.delivered_at end,
        read_at = case when v.status = 'read' then coalesce(m.read_at, v.at) else m.read_at end,
        failed_at = case when v.status = 'failed' and gwb_status_rank(m.status) < 3 then v.at else m.failed_at end,
        error_code = case when v.status = 'failed' and gwb_status_rank(m.status) < 3
                          then v.error_code else m.error_code end,
        error_text = case when v.status = 'failed' and gwb_status_rank(m.status) < 3
                          then v.error_text else m.error_text end,
        status_receipt_owed = case
          when gwb_status_rank(v.status) > gwb_status_rank(m.status) and v.receipt_due is not null
               and m.genesys_message_id is not null and not (v.status = 'read' and m.status = 'delivered')
          then v.receipt_due::jsonb else m.status_receipt_owed end
      from v, old
      where m.id = old.id and m.tenant_id = v.tenant_id and m.direction = 'outbound' and m.wamid = v.wamid
      returning m.id, m.wamid, m.status, m.tenant_id, m.genesys_message_id, m.wa_id, m.conversation_id,
                m.status_receipt_owed
    )
    select v.tenant_id as key_tenant, v.wamid, old.previous, upd.status as current, upd.tenant_id,
           upd.genesys_message_id, upd.wa_id, upd.conversation_id, upd.status_receipt_owed as receipt_owed
    from v left join upd on upd.tenant_id = v.tenant_id and upd.wamid = v.wamid left join old on old.id = upd.id`
}

/** Batched front of applyStatuses for the status processor: concurrent records share one statement. */
export function createStatusApplier(sql: Sql, opts: BatchOptions): Batcher<StatusInput, StatusOutcome> {
  return createBatcher<StatusInput, StatusOutcome>({ ...opts, flush: (items) => applyStatuses(sql, items) })
}

/**
 * The owed receipt reached Genesys (or Genesys refused it for good): nothing is owed any more.
 * Clears only that very debt, so a newer one a later status recorded meanwhile stays owed.
 */
export async function clearOwedStatusReceipt(sql: Sql, ref: StatusReceiptRef, paid: OwedStatusReceipt): Promise<void> {
  await clearOwedStatusReceipts(sql, [{ ref, paid }])
}

/** A receipt debt that was paid: the message's row and the very debt. */
export interface PaidReceipt {
  ref: StatusReceiptRef
  paid: OwedStatusReceipt
}

/**
 * clearOwedStatusReceipt for many debts in one statement. (Debts are sent as text: a parameter typed
 * jsonb would be encoded as JSON once more, a string that equals no object.)
 */
async function clearOwedStatusReceipts(sql: Sql, items: readonly PaidReceipt[]): Promise<void> {
  await sql`
    update message_tracking m set status_receipt_owed = null
    from unnest(
      ${items.map((i) => i.ref.tenantId)}::text[],
      ${items.map((i) => i.ref.wamid)}::text[],
      ${items.map((i) => JSON.stringify(i.paid))}::text[]
    ) as v(tenant_id, wamid, paid)
    where m.tenant_id = v.tenant_id and m.direction = 'outbound' and m.wamid = v.wamid
      and m.status_receipt_owed = v.paid::jsonb`
}

/** Batched clearOwedStatusReceipt for the status processor: concurrent records share one statement. */
export function createOwedReceiptClearer(sql: Sql, opts: BatchOptions): Batcher<PaidReceipt, void> {
  return createBatcher<PaidReceipt, void>({
    ...opts,
    flush: async (items) => {
      await clearOwedStatusReceipts(sql, items)
      return items.map(() => undefined)
    },
  })
}
