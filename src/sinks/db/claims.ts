import { createBatcher } from '../../batcher.js'
import type { Sql } from './client.js'
import { byDirection, keyColumn, rowKey, type BatchOptions, type Direction } from './tracking-rows.js'

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
    -- The predicate infers the partial key index (migration 0008).
    on conflict (tenant_id, direction, ${sql(col)}) where ${sql(col)} is not null do update set
      status = 'claimed',
      claimed_at = now(),
      attempts = m.attempts + 1,
      conversation_id = coalesce(m.conversation_id, excluded.conversation_id),
      wa_id = coalesce(m.wa_id, excluded.wa_id)
    where m.status = 'retrying'
    returning m.tenant_id, m.${sql(col)} as id`
  return new Set(out.map((r) => rowKey(r.tenant_id, r.id)))
}
