import type { Sql } from './client.js'

// The message_tracking row as every part of the sink sees it: its states, the column a direction's
// message id lives in, how a row is keyed in a batch, and reading rows back.

export type Direction = 'outbound' | 'inbound'
export type TrackingStatus = 'claimed' | 'retrying' | 'sent' | 'delivered' | 'read' | 'failed' | 'dead_lettered'
export type DeliveryStatus = 'sent' | 'delivered' | 'read' | 'failed'

export interface BatchOptions {
  maxSize: number
  maxWaitMs: number
}

/**
 * The id a row is claimed and found by: the Genesys message id outbound, the wamid inbound. The column
 * name comes from this fixed map only (never from input), so using it as an identifier is safe.
 */
export const keyColumn = { outbound: 'genesys_message_id', inbound: 'wamid' } as const

/**
 * A row's identity: ids are unique per tenant only, so two tenants may use the same one (tenant ids
 * match ^[a-z0-9-]+$, so the separator cannot be forged by either part).
 */
export const rowKey = (tenantId: string, id: string): string => `${tenantId}:${id}`

/** Groups items by direction, keeping each item's index, so one statement per direction serves a batch. */
export function byDirection<T extends { direction: Direction }>(
  items: T[],
): Map<Direction, { item: T; index: number }[]> {
  const groups = new Map<Direction, { item: T; index: number }[]>()
  items.forEach((item, index) => {
    const g = groups.get(item.direction) ?? []
    g.push({ item, index })
    groups.set(item.direction, g)
  })
  return groups
}

export interface TrackingRow {
  id: string
  tenantId: string
  direction: Direction
  genesysMessageId: string | null
  wamid: string | null
  conversationId: string | null
  waId: string | null
  status: TrackingStatus
  attempts: number
  errorCode: string | null
  errorText: string | null
  createdAt: Date
  claimedAt: Date | null
  sentAt: Date | null
  deliveredAt: Date | null
  readAt: Date | null
  failedAt: Date | null
}

/** The tenant's rows keyed by the direction's message id (Genesys id outbound, wamid inbound). */
export async function lookupByMessageIds(
  sql: Sql,
  tenantId: string,
  direction: Direction,
  ids: string[],
): Promise<Map<string, TrackingRow>> {
  const col = keyColumn[direction]
  const rows = await sql<(TrackingRow & { key: string })[]>`
    select ${sql(col)} as key, id, tenant_id as "tenantId", direction, genesys_message_id as "genesysMessageId",
           wamid, conversation_id as "conversationId", wa_id as "waId", status, attempts,
           error_code as "errorCode", error_text as "errorText", created_at as "createdAt",
           claimed_at as "claimedAt", sent_at as "sentAt", delivered_at as "deliveredAt",
           read_at as "readAt", failed_at as "failedAt"
    -- Joined to the wanted (tenant, id) pairs, not "tenant_id = $1 and id = any($2)": on a table
    -- without statistics the planner takes a constant tenant for a handful of rows and applies the
    -- array as a filter over the index's (tenant_id, direction) prefix, reading every row of the tenant.
    from message_tracking
    join unnest(${ids.map(() => tenantId)}::text[], ${ids}::text[]) as v(tenant, wanted)
      on tenant_id = v.tenant and ${sql(col)} = v.wanted
    where direction = ${direction}`
  return new Map(rows.map(({ key, ...row }) => [key, row]))
}

/** Rows a retention may delete: final, with no receipt still owed (by either flow). */
const FINAL_STATES: TrackingStatus[] = ['sent', 'delivered', 'read', 'failed', 'dead_lettered']

/**
 * Deletes tracking rows in a final state created before the cut-off, tenant by tenant (the
 * `(tenant_id, created_at)` index) and in slices of `batch` rows, so no statement holds many row
 * locks or runs long beside the hot path; returns how many went. Claims still open, retries, and
 * rows owing a receipt stay whatever their age.
 */
export async function expireTrackingRows(sql: Sql, olderThan: Date, batch = 5000): Promise<number> {
  let removed = 0
  const tenants = await sql<{ id: string }[]>`select id from tenants`
  for (const { id } of tenants) {
    for (;;) {
      const rows = await sql`
        delete from message_tracking where id in (
          select id from message_tracking
          where tenant_id = ${id} and created_at < ${olderThan}
            and status = any(${FINAL_STATES}) and receipt_owed is null and status_receipt_owed is null
          limit ${batch})
        returning 1`
      removed += rows.count
      if (rows.count < batch) break
    }
  }
  return removed
}
