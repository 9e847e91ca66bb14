import type { JSONValue } from 'postgres'
import type { Sql } from './client.js'
import type { DeliveryStatus } from './tracking-rows.js'

// Statuses that arrived before their send was tracked, parked until the wamid is known.

export interface PendingStatus {
  tenantId: string
  wamid: string
  status: DeliveryStatus
  payload: JSONValue
  receivedAt: Date
}

/** Idempotent: the same (tenant, wamid, status) arriving twice is kept once. */
export async function savePendingStatus(
  sql: Sql,
  p: { tenantId: string; wamid: string; status: DeliveryStatus; payload: JSONValue; receivedAt?: Date },
): Promise<void> {
  await sql`
    insert into pending_statuses (tenant_id, wamid, status, payload, received_at)
    values (${p.tenantId}, ${p.wamid}, ${p.status}, ${sql.json(p.payload)}, ${p.receivedAt ?? new Date()})
    on conflict (tenant_id, wamid, status) do nothing`
}

/** Removes and returns the tenant's pending statuses of these wamids, oldest first, for re-applying. */
export async function takePendingStatuses(sql: Sql, tenantId: string, wamids: string[]): Promise<PendingStatus[]> {
  if (wamids.length === 0) return []
  const rows = await sql<PendingStatus[]>`
    delete from pending_statuses where tenant_id = ${tenantId} and wamid = any(${wamids}::text[])
    returning tenant_id as "tenantId", wamid, status, payload, received_at as "receivedAt"`
  return [...rows].sort((a, b) => a.receivedAt.getTime() - b.receivedAt.getTime())
}

/** Drops pending statuses older than the cut-off (their send was never recorded); returns how many. */
export async function sweepPendingStatuses(sql: Sql, olderThan: Date): Promise<number> {
  const rows = await sql`delete from pending_statuses where received_at < ${olderThan} returning 1`
  return rows.count
}

/**
 * Removes and returns up to `limit` parked statuses whose send is tracked now, oldest first, for the
 * sweeper to publish again. Only those parked from `topic` (the status topic of this deployment);
 * rows another sweeper is taking are skipped, so concurrent sweepers take different rows.
 */
export async function takeReadyPendingStatuses(sql: Sql, topic: string, limit: number): Promise<PendingStatus[]> {
  const rows = await sql<PendingStatus[]>`
    delete from pending_statuses p
    where (p.tenant_id, p.wamid, p.status) in (
      select q.tenant_id, q.wamid, q.status from pending_statuses q
      where q.payload->>'topic' = ${topic}
        and exists (select 1 from message_tracking m
                    where m.tenant_id = q.tenant_id and m.direction = 'outbound' and m.wamid = q.wamid)
      order by q.received_at
      limit ${limit}
      for update skip locked)
    returning p.tenant_id as "tenantId", p.wamid, p.status, p.payload, p.received_at as "receivedAt"`
  return [...rows].sort((a, b) => a.receivedAt.getTime() - b.receivedAt.getTime())
}
