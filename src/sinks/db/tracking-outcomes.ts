import { createBatcher, type Batcher } from '../../batcher.js'
import type { Sql } from './client.js'
import { byDirection, keyColumn, rowKey, type BatchOptions, type Direction } from './tracking-rows.js'

// What happened to a claimed message, written after the external call: sent, retrying, failed,
// dead-lettered, or released for an explicit replay/resend.

const iso = (d: Date | undefined): string | null => (d === undefined ? null : d.toISOString())

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
export interface RetryingInput extends ErrorInput {
  /** When it failed: kept as the row's first failure unless it has one (the retry ceiling counts from it). */
  at: Date
}
export interface FailedInput extends ErrorInput {
  at: Date
  /**
   * The reason code of the Failed receipt the agent is owed for this failure, recorded with the move
   * (only then): the receipt survives a crash until paid (owed-receipts.ts). None: no receipt is due.
   */
  receiptOwed?: string
}
export interface DeadLetteredInput extends ErrorInput {
  /** As for FailedInput: a Failed receipt is due with this dead letter. */
  receiptOwed?: string
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
  markRetrying: (input: RetryingInput) => Promise<boolean>
  markFailed: (input: FailedInput) => Promise<boolean>
  markDeadLettered: (input: DeadLetteredInput) => Promise<boolean>
  /**
   * Explicit replay/resend: puts the row back to 'retrying' whatever its state, so it may be claimed
   * again; its first failure is forgotten (a re-drive gets the whole retry ceiling).
   */
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
  receiptOwed: string | null
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
      ${rows.map((r) => r.at)}::timestamptz[],
      ${rows.map((r) => r.receiptOwed)}::text[]
    ) as v(tenant_id, message_id, wamid, genesys_message_id, error_code, error_text, at, receipt_owed)`
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
          error_code = null, error_text = null, receipt_owed = null
        from ${v}
        where ${match} and m.status in ('claimed', 'retrying', 'dead_lettered')
        returning m.tenant_id, m.${sql(col)} as id`
      break
    case 'retrying':
      out = await sql<{ tenant_id: string; id: string }[]>`
        update message_tracking m set
          status = 'retrying', error_code = v.error_code, error_text = v.error_text,
          first_failed_at = coalesce(m.first_failed_at, v.at)
        from ${v}
        where ${match} and m.status = 'claimed'
        returning m.tenant_id, m.${sql(col)} as id`
      break
    case 'failed':
      out = await sql<{ tenant_id: string; id: string }[]>`
        update message_tracking m set
          status = 'failed', error_code = v.error_code, error_text = v.error_text, failed_at = v.at,
          receipt_owed = v.receipt_owed
        from ${v}
        where ${match} and m.status in ('claimed', 'retrying', 'dead_lettered')
        returning m.tenant_id, m.${sql(col)} as id`
      break
    case 'dead_lettered':
      out = await sql<{ tenant_id: string; id: string }[]>`
        update message_tracking m set
          status = 'dead_lettered', error_code = v.error_code, error_text = v.error_text, receipt_owed = v.receipt_owed
        from ${v}
        where ${match} and m.status in ('claimed', 'retrying')
        returning m.tenant_id, m.${sql(col)} as id`
      break
    case 'release':
      out = await sql<{ tenant_id: string; id: string }[]>`
        update message_tracking m set
          status = 'retrying', error_text = v.error_text, first_failed_at = null, receipt_owed = null
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
  const base = { wamid: null, genesysMessageId: null, errorCode: null, errorText: null, at: null, receiptOwed: null }
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
    markRetrying: (i) => retrying.add({ ...base, ...i, at: iso(i.at) }),
    markFailed: (i) => failed.add({ ...base, ...i, at: iso(i.at), receiptOwed: i.receiptOwed ?? null }),
    markDeadLettered: (i) => dead.add({ ...base, ...i, receiptOwed: i.receiptOwed ?? null }),
    release: (i) =>
      rel.add({ ...base, tenantId: i.tenantId, direction: i.direction, messageId: i.messageId, errorText: i.reason }),
    drain: async () => {
      await Promise.all([sent, retrying, failed, dead, rel].map((b) => b.drain()))
    },
  }
}
