import type { Sql } from './client.js'
import type { TrackingStatus } from './tracking-rows.js'

export interface InboundClaimInput {
  tenantId: string
  wamid: string
  waId: string
  /** Who claims: this process and record. The same owner may re-take its own unfinished claim. */
  owner: string
  /** How long an unfinished claim of another owner is left alone before it is taken over. */
  leaseMs: number
}

/**
 * `owned`: forward it now (`firstFailedAt`: its first transient failure, if it had one). `done`: it was forwarded, failed or dead-lettered already (a duplicate).
 * `held`: another owner's claim is unfinished and within its lease; try again after `leaseLeftMs`.
 */
export type InboundClaim =
  | { kind: 'owned'; firstFailedAt: Date | null }
  | { kind: 'done'; status: TrackingStatus }
  | { kind: 'held'; leaseLeftMs: number }

/**
 * Claims a customer's message (by wamid) before it is forwarded to Genesys. Unlike a plain
 * "first one wins", a claim that was never finished is not a duplicate: its own owner re-takes it
 * (an exception after the claim, retried by the runner), and any other owner takes it over once the
 * lease has passed (the owner was SIGKILLed, or lost the partition). The database decides atomically.
 */
export async function claimInbound(sql: Sql, c: InboundClaimInput): Promise<InboundClaim> {
  const won = await sql<{ id: string; firstFailedAt: Date | null }[]>`
    insert into message_tracking as m
      (tenant_id, direction, wamid, wa_id, status, attempts, claimed_at, claim_owner)
    values (${c.tenantId}, 'inbound', ${c.wamid}, ${c.waId}, 'claimed', 1, now(), ${c.owner})
    -- The predicate infers the partial key index (migration 0008).
    on conflict (tenant_id, direction, wamid) where wamid is not null do update set
      status = 'claimed',
      claimed_at = now(),
      claim_owner = excluded.claim_owner,
      attempts = m.attempts + 1,
      wa_id = coalesce(m.wa_id, excluded.wa_id)
    where m.status = 'retrying'
       or (m.status = 'claimed'
           and (m.claim_owner is not distinct from excluded.claim_owner
                or m.claimed_at is null
                or m.claimed_at < now() - ${c.leaseMs} * interval '1 millisecond'))
    returning m.id, m.first_failed_at as "firstFailedAt"`
  const [owned] = won
  if (owned !== undefined) return { kind: 'owned', firstFailedAt: owned.firstFailedAt }
  const [row] = await sql<{ status: TrackingStatus; leftMs: number | null }[]>`
    select status,
           greatest(0, extract(epoch from (claimed_at + ${c.leaseMs} * interval '1 millisecond' - now())) * 1000)::float8
             as "leftMs"
    from message_tracking
    where tenant_id = ${c.tenantId} and direction = 'inbound' and wamid = ${c.wamid}`
  // Gone between the two statements (a retention sweep): the next attempt claims it afresh.
  if (row === undefined) return { kind: 'held', leaseLeftMs: 0 }
  if (row.status === 'claimed' || row.status === 'retrying')
    return { kind: 'held', leaseLeftMs: Math.ceil(row.leftMs ?? 0) }
  return { kind: 'done', status: row.status }
}
