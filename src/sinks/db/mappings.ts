import type { Sql } from './client.js'

export interface Mapping {
  tenantId: string
  conversationId: string
  waId: string
  phoneNumberId: string
}

export interface MappingRow extends Mapping {
  createdAt: Date
  lastActivityAt: Date
}

const columns = (sql: Sql) => sql`
  tenant_id as "tenantId", conversation_id as "conversationId", wa_id as "waId",
  phone_number_id as "phoneNumberId", created_at as "createdAt", last_activity_at as "lastActivityAt"`

/** Conversation ids are unique per tenant only: another tenant's conversation of the same id is not this one. */
export async function getByConversation(
  sql: Sql,
  tenantId: string,
  conversationId: string,
): Promise<MappingRow | undefined> {
  const rows = await sql<MappingRow[]>`
    select ${columns(sql)} from conversation_mappings
    where tenant_id = ${tenantId} and conversation_id = ${conversationId}`
  return rows[0]
}

/** The customer's most recently active conversation in this tenant. */
export async function getByWa(sql: Sql, tenantId: string, waId: string): Promise<MappingRow | undefined> {
  const rows = await sql<MappingRow[]>`
    select ${columns(sql)} from conversation_mappings
    where tenant_id = ${tenantId} and wa_id = ${waId}
    order by last_activity_at desc
    limit 1`
  return rows[0]
}

/**
 * Race-safe create: when two workers learn the same conversation at once, both get the row that was
 * stored first (a conversation's customer never changes), and its activity moves forward.
 */
export async function upsertMapping(sql: Sql, m: Mapping, at: Date = new Date()): Promise<MappingRow> {
  const rows = await sql<MappingRow[]>`
    insert into conversation_mappings (tenant_id, conversation_id, wa_id, phone_number_id, created_at, last_activity_at)
    values (${m.tenantId}, ${m.conversationId}, ${m.waId}, ${m.phoneNumberId}, ${at}, ${at})
    on conflict (tenant_id, conversation_id) do update
      set last_activity_at = greatest(conversation_mappings.last_activity_at, excluded.last_activity_at)
    returning ${columns(sql)}`
  return rows[0] as MappingRow
}

export interface ActivityToucher {
  /** Records activity; written with the next flush. Never throws and never waits. */
  touch: (tenantId: string, conversationId: string, at: Date) => void
  /** Writes what is pending now (one statement). */
  flush: () => Promise<void>
  /** Stops the timer and writes what is pending. */
  close: () => Promise<void>
  readonly pending: number
}

export interface ActivityToucherOptions {
  flushMs: number
  /** Called when a flush fails; the touches are kept for the next flush. */
  onError?: (err: unknown) => void
}

/**
 * last_activity_at is informational and hot (every message touches it), so touches are coalesced per
 * conversation (latest time wins) and written by one UPDATE per flush instead of one per message.
 */
export function createActivityToucher(sql: Sql, opts: ActivityToucherOptions): ActivityToucher {
  // Keyed by [tenantId, conversationId] as JSON: the same conversation id may exist in two tenants.
  let pending = new Map<string, number>()
  let running: Promise<void> = Promise.resolve()

  const write = async (): Promise<void> => {
    if (pending.size === 0) return
    const batch = pending
    pending = new Map()
    const keys = [...batch.keys()].map((k) => JSON.parse(k) as [string, string])
    try {
      await sql`
        update conversation_mappings m
        set last_activity_at = greatest(m.last_activity_at, v.at)
        from unnest(
          ${keys.map((k) => k[0])}::text[],
          ${keys.map((k) => k[1])}::text[],
          ${[...batch.values()].map((ms) => new Date(ms).toISOString())}::timestamptz[]
        ) as v(tenant_id, conversation_id, at)
        where m.tenant_id = v.tenant_id and m.conversation_id = v.conversation_id`
    } catch (err) {
      // Put them back (keeping any newer touch) so a Postgres hiccup only delays the write.
      for (const [id, ms] of batch) pending.set(id, Math.max(ms, pending.get(id) ?? 0))
      opts.onError?.(err)
    }
  }
  // Flushes run one after another so two batches never race on the same rows.
  const flush = (): Promise<void> => (running = running.then(write))

  const timer = setInterval(() => void flush(), opts.flushMs)
  timer.unref()

  return {
    touch(tenantId, conversationId, at) {
      const ms = at.getTime()
      const key = JSON.stringify([tenantId, conversationId])
      if ((pending.get(key) ?? 0) < ms) pending.set(key, ms)
    },
    flush,
    async close() {
      clearInterval(timer)
      await flush()
    },
    get pending() {
      return pending.size
    },
  }
}
