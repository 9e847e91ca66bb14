import type { JSONValue } from 'postgres'
import { createBatcher, type Batcher } from '../../batcher.js'
import type { Sql } from './client.js'

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
const keyColumn = { outbound: 'genesys_message_id', inbound: 'wamid' } as const

/**
 * A row's identity: ids are unique per tenant only, so two tenants may use the same one (tenant ids
 * match ^[a-z0-9-]+$, so the separator cannot be forged by either part).
 */
const rowKey = (tenantId: string, id: string): string => `${tenantId}:${id}`

/** Groups items by direction, keeping each item's index, so one statement per direction serves a batch. */
function byDirection<T extends { direction: Direction }>(items: T[]): Map<Direction, { item: T; index: number }[]> {
  const groups = new Map<Direction, { item: T; index: number }[]>()
  items.forEach((item, index) => {
    const g = groups.get(item.direction) ?? []
    g.push({ item, index })
    groups.set(item.direction, g)
  })
  return groups
}

const iso = (d: Date | undefined): string | null => (d === undefined ? null : d.toISOString())

// ---------------------------------------------------------------------------------------------------
// Claims

export interface ClaimInput {
  tenantId: string
  direction: Direction
  /** Genesys message id (outbound) or wamid (inbound). */
  messageId: string
  conversationId?: string
  waId?: string
}

export interface Claimer {
  /** true: this caller owns the message now and may make the external call; false: someone else did. */
  claim: (input: ClaimInput) => Promise<boolean>
  drain: () => Promise<void>
}

/**
 * The claim that guarantees no double send: the row is inserted as 'claimed', or an existing row is
 * taken over only from 'retrying' (known not sent). A dead-lettered row is not claimable by a plain
 * redelivery (its send may have happened): a re-drive releases it explicitly (the resend flag). The
 * database decides atomically; concurrent callers share one multi-row INSERT per flush.
 */
export function createClaimer(sql: Sql, opts: BatchOptions): Claimer {
  const batcher = createBatcher<ClaimInput, boolean>({
    ...opts,
    flush: async (items) => {
      const results = items.map(() => false)
      await Promise.all(
        [...byDirection(items)].map(async ([direction, group]) => {
          // ON CONFLICT DO UPDATE may not touch a row twice in one statement: the first occurrence of
          // an id in the batch competes, later ones in the same batch lose (someone here already won).
          const first = new Map<string, number>()
          for (const { item, index } of group) {
            const key = rowKey(item.tenantId, item.messageId)
            if (!first.has(key)) first.set(key, index)
          }
          // Sorted: concurrent batches then take the unique-index locks in one order and cannot deadlock.
          const unique = [...first]
            .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
            .map(([, i]) => items[i] as ClaimInput)
          const won = await claimRows(sql, direction, unique)
          for (const [key, index] of first) if (won.has(key)) results[index] = true
        }),
      )
      return results
    },
  })
  return { claim: (input) => batcher.add(input), drain: () => batcher.drain() }
}

async function claimRows(sql: Sql, direction: Direction, rows: ClaimInput[]): Promise<Set<string>> {
  const col = keyColumn[direction]
  const out = await sql<{ tenant_id: string; id: string }[]>`
    insert into message_tracking as m
      (tenant_id, direction, ${sql(col)}, conversation_id, wa_id, status, attempts, claimed_at)
    select u.tenant_id, ${direction}, u.message_id, u.conversation_id, u.wa_id, 'claimed', 1, now()
    from unnest(
      ${rows.map((r) => r.tenantId)}::text[],
      ${rows.map((r) => r.messageId)}::text[],
      ${rows.map((r) => r.conversationId ?? null)}::text[],
      ${rows.map((r) => r.waId ?? null)}::text[]
    ) as u(tenant_id, message_id, conversation_id, wa_id)
    on conflict (tenant_id, direction, ${sql(col)}) do update set
      status = 'claimed',
      claimed_at = now(),
      attempts = m.attempts + 1,
      conversation_id = coalesce(m.conversation_id, excluded.conversation_id),
      wa_id = coalesce(m.wa_id, excluded.wa_id)
    where m.status = 'retrying'
    returning m.tenant_id, m.${sql(col)} as id`
  return new Set(out.map((r) => rowKey(r.tenant_id, r.id)))
}

// ---------------------------------------------------------------------------------------------------
// Outcome writers

export interface SentInput {
  tenantId: string
  direction: Direction
  messageId: string
  /** The wamid Meta answered with (outbound). */
  wamid?: string
  /** The message id Genesys answered with (inbound). */
  genesysMessageId?: string
  at: Date
}
export interface ErrorInput {
  tenantId: string
  direction: Direction
  messageId: string
  errorCode: string
  errorText: string
}
export interface FailedInput extends ErrorInput {
  at: Date
}
export interface ReleaseInput {
  tenantId: string
  direction: Direction
  messageId: string
  /** Why it is released (operator's replay/resend); kept in error_text for the audit trail. */
  reason: string
}

export interface TrackingWriter {
  /** Each resolves true if the row was in a state that allowed the change. */
  markSent: (input: SentInput) => Promise<boolean>
  /** Transient failure, known NOT sent: claimable again. Only from 'claimed'. */
  markRetrying: (input: ErrorInput) => Promise<boolean>
  markFailed: (input: FailedInput) => Promise<boolean>
  markDeadLettered: (input: ErrorInput) => Promise<boolean>
  /** Explicit replay/resend: puts the row back to 'retrying' whatever its state, so it may be claimed again. */
  release: (input: ReleaseInput) => Promise<boolean>
  drain: () => Promise<void>
}

/** A generic row of a batched UPDATE: every variant fills the same arrays, unused ones with NULL. */
interface Change {
  tenantId: string
  direction: Direction
  messageId: string
  wamid: string | null
  genesysMessageId: string | null
  errorCode: string | null
  errorText: string | null
  at: string | null
}

type Kind = 'sent' | 'retrying' | 'failed' | 'dead_lettered' | 'release'

/** Dedupe by row (last one wins) because UPDATE … FROM picks an arbitrary row when several match. */
function lastById<T extends { tenantId: string; messageId: string }>(group: { item: T; index: number }[]): T[] {
  const m = new Map<string, T>()
  for (const { item } of group) m.set(rowKey(item.tenantId, item.messageId), item)
  return [...m.values()]
}

function makeUpdater(sql: Sql, kind: Kind, opts: BatchOptions): Batcher<Change, boolean> {
  return createBatcher<Change, boolean>({
    ...opts,
    flush: async (items) => {
      const changed = new Map<Direction, Set<string>>()
      await Promise.all(
        [...byDirection(items)].map(async ([direction, group]) => {
          changed.set(direction, await updateRows(sql, kind, direction, lastById(group)))
        }),
      )
      return items.map((i) => changed.get(i.direction)?.has(rowKey(i.tenantId, i.messageId)) ?? false)
    },
  })
}

async function updateRows(sql: Sql, kind: Kind, direction: Direction, rows: Change[]): Promise<Set<string>> {
  const col = keyColumn[direction]
  const v = sql`unnest(
      ${rows.map((r) => r.tenantId)}::text[],
      ${rows.map((r) => r.messageId)}::text[],
      ${rows.map((r) => r.wamid)}::text[],
      ${rows.map((r) => r.genesysMessageId)}::text[],
      ${rows.map((r) => r.errorCode)}::text[],
      ${rows.map((r) => r.errorText)}::text[],
      ${rows.map((r) => r.at)}::timestamptz[]
    ) as v(tenant_id, message_id, wamid, genesys_message_id, error_code, error_text, at)`
  const match = sql`m.tenant_id = v.tenant_id and m.direction = ${direction} and m.${sql(col)} = v.message_id`
  let out: { tenant_id: string; id: string }[]
  switch (kind) {
    case 'sent':
      out = await sql<{ tenant_id: string; id: string }[]>`
        update message_tracking m set
          status = 'sent',
          wamid = coalesce(m.wamid, v.wamid),
          genesys_message_id = coalesce(m.genesys_message_id, v.genesys_message_id),
          sent_at = coalesce(m.sent_at, v.at),
          error_code = null, error_text = null
        from ${v}
        where ${match} and m.status in ('claimed', 'retrying', 'dead_lettered')
        returning m.tenant_id, m.${sql(col)} as id`
      break
    case 'retrying':
      out = await sql<{ tenant_id: string; id: string }[]>`
        update message_tracking m set status = 'retrying', error_code = v.error_code, error_text = v.error_text
        from ${v}
        where ${match} and m.status = 'claimed'
        returning m.tenant_id, m.${sql(col)} as id`
      break
    case 'failed':
      out = await sql<{ tenant_id: string; id: string }[]>`
        update message_tracking m set
          status = 'failed', error_code = v.error_code, error_text = v.error_text, failed_at = v.at
        from ${v}
        where ${match} and m.status in ('claimed', 'retrying', 'dead_lettered')
        returning m.tenant_id, m.${sql(col)} as id`
      break
    case 'dead_lettered':
      out = await sql<{ tenant_id: string; id: string }[]>`
        update message_tracking m set status = 'dead_lettered', error_code = v.error_code, error_text = v.error_text
        from ${v}
        where ${match} and m.status in ('claimed', 'retrying')
        returning m.tenant_id, m.${sql(col)} as id`
      break
    case 'release':
      out = await sql<{ tenant_id: string; id: string }[]>`
        update message_tracking m set status = 'retrying', error_text = v.error_text
        from ${v}
        where ${match}
        returning m.tenant_id, m.${sql(col)} as id`
      break
  }
  return new Set(out.map((r) => rowKey(r.tenant_id, r.id)))
}

export function createTrackingWriter(sql: Sql, opts: BatchOptions): TrackingWriter {
  const sent = makeUpdater(sql, 'sent', opts)
  const retrying = makeUpdater(sql, 'retrying', opts)
  const failed = makeUpdater(sql, 'failed', opts)
  const dead = makeUpdater(sql, 'dead_lettered', opts)
  const rel = makeUpdater(sql, 'release', opts)
  const base = { wamid: null, genesysMessageId: null, errorCode: null, errorText: null, at: null }
  return {
    markSent: (i) =>
      sent.add({
        ...base,
        tenantId: i.tenantId,
        direction: i.direction,
        messageId: i.messageId,
        wamid: i.wamid ?? null,
        genesysMessageId: i.genesysMessageId ?? null,
        at: iso(i.at),
      }),
    markRetrying: (i) => retrying.add({ ...base, ...i }),
    markFailed: (i) => failed.add({ ...base, ...i, at: iso(i.at) }),
    markDeadLettered: (i) => dead.add({ ...base, ...i }),
    release: (i) =>
      rel.add({ ...base, tenantId: i.tenantId, direction: i.direction, messageId: i.messageId, errorText: i.reason }),
    drain: async () => {
      await Promise.all([sent, retrying, failed, dead, rel].map((b) => b.drain()))
    },
  }
}

// ---------------------------------------------------------------------------------------------------
// Delivery statuses (outbound messages only: Meta reports statuses of what the business sent)

export interface StatusInput {
  /** The tenant ingest resolved from the status's phone_number_id: only its rows are matched. */
  tenantId: string
  wamid: string
  status: DeliveryStatus
  at: Date
  errorCode?: string
  errorText?: string
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
}

/**
 * Applies statuses monotonically in SQL (gwb_status_rank: sent < delivered < read; failed ranks with
 * read, so both are terminal). Missing timestamps are filled even when the status does not move
 * (a late 'sent' still records sent_at), but failed_at and the error only come with the move to failed.
 * One statement per round; a round holds each wamid at most once so repeated wamids in one batch
 * apply in order instead of racing inside one UPDATE.
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
        ${items.map((i) => i.errorText ?? null)}::text[]
      ) as v(tenant_id, wamid, status, at, error_code, error_text)
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
                          then v.error_text else m.error_text end
      from v, old
      where m.id = old.id and m.tenant_id = v.tenant_id and m.direction = 'outbound' and m.wamid = v.wamid
      returning m.id, m.wamid, m.status, m.tenant_id, m.genesys_message_id, m.wa_id, m.conversation_id
    )
    select v.tenant_id as key_tenant, v.wamid, old.previous, upd.status as current, upd.tenant_id,
           upd.genesys_message_id, upd.wa_id, upd.conversation_id
    from v left join upd on upd.tenant_id = v.tenant_id and upd.wamid = v.wamid left join old on old.id = upd.id`
}

/** Batched front of applyStatuses for the status processor: concurrent records share one statement. */
export function createStatusApplier(sql: Sql, opts: BatchOptions): Batcher<StatusInput, StatusOutcome> {
  return createBatcher<StatusInput, StatusOutcome>({ ...opts, flush: (items) => applyStatuses(sql, items) })
}

// ---------------------------------------------------------------------------------------------------
// Lookups and pending statuses

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
    from message_tracking
    where tenant_id = ${tenantId} and direction = ${direction} and ${sql(col)} = any(${ids}::text[])`
  return new Map(rows.map(({ key, ...row }) => [key, row]))
}

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
