import t from 'tap'
import type { Sql } from '../../../src/sinks/db/client.js'
import { applyStatuses } from '../../../src/sinks/db/delivery-statuses.js'
import { createSettlementStore } from '../../../src/sinks/db/settlement.js'
import { createTrackingWriter } from '../../../src/sinks/db/tracking-outcomes.js'
import { lookupByMessageIds } from '../../../src/sinks/db/tracking-rows.js'
import { createTestDb } from '../../helpers/db.js'
import { seedTenant } from '../../helpers/tenants.js'

// The hot path's statements on message_tracking must read the rows they are about, whatever the
// planner knows: a fresh deployment (or a server with autovacuum off) has a table with no statistics,
// and with the two message keys as full indexes the planner matched a lookup by Genesys id on the
// wamid index's (tenant_id, direction) prefix, reading every row of the tenant per statement.

const ROWS = 20_000
/** Rows each operation below may read for its 10 messages; the prefix scan read ~ROWS per statement. */
const BOUND = 200

/** Index entries and heap rows read from message_tracking so far (this backend's counters included). */
async function rowsRead(sql: Sql): Promise<number> {
  // The database has one connection: the statements measured ran on this backend, whose pending
  // counters are published at the end of this transaction; the next one reads them.
  await sql`select pg_stat_force_next_flush()`
  const [row] = await sql<{ n: string }[]>`
    select (coalesce(t.seq_tup_read, 0) + coalesce(sum(i.idx_tup_read), 0))::text as n
    from pg_stat_user_tables t left join pg_stat_user_indexes i on i.relid = t.relid
    where t.relname = 'message_tracking'
    group by t.seq_tup_read`
  return Number(row?.n ?? Number.NaN)
}

async function readBy(sql: Sql, run: () => Promise<unknown>): Promise<number> {
  const before = await rowsRead(sql)
  await run()
  return (await rowsRead(sql)) - before
}

t.test('tracking statements read their own rows on a table the planner has no statistics for', async (t) => {
  const db = await createTestDb({ max: 1 })
  t.teardown(db.drop)
  const { sql } = db
  await seedTenant(sql, 'plans')
  // As on a server whose autovacuum is off or has not reached the table yet.
  await sql`alter table message_tracking set (autovacuum_enabled = false)`
  await sql`
    insert into message_tracking (tenant_id, direction, genesys_message_id, wamid, status, attempts, claimed_at)
    select 'plans', 'outbound', 'g-' || i, case when i % 2 = 0 then 'wamid.out-' || i end,
           case when i % 2 = 0 then 'sent' else 'claimed' end, 1, now()
    from generate_series(1, ${ROWS}) i`
  await sql`
    insert into message_tracking (tenant_id, direction, wamid, status, attempts, claimed_at)
    select 'plans', 'inbound', 'wamid.in-' || i, 'claimed', 1, now() from generate_series(1, ${ROWS}) i`
  const [stats] = await sql<{ analyzed: boolean }[]>`
    select last_analyze is not null or last_autoanalyze is not null as analyzed
    from pg_stat_user_tables where relname = 'message_tracking'`
  t.equal(stats?.analyzed, false, 'the table has no statistics')

  const writer = createTrackingWriter(sql, { maxSize: 50, maxWaitMs: 2 })
  const settlement = createSettlementStore(sql, { maxSize: 50, maxWaitMs: 2 })
  // Odd numbers: rows still claimed, with no wamid yet.
  const ten = Array.from({ length: 10 }, (_, i) => i * 98 + 1)
  const at = new Date('2026-01-01T00:00:00Z')

  const outboundSent = await readBy(sql, () =>
    Promise.all(
      ten.map((i) =>
        writer.markSent({ tenantId: 'plans', direction: 'outbound', messageId: `g-${i}`, wamid: `wamid.new-${i}`, at }),
      ),
    ),
  )
  t.ok(outboundSent <= BOUND, `outbound markSent by Genesys id read ${outboundSent} rows for 10 messages`)

  const inboundSent = await readBy(sql, () =>
    Promise.all(
      ten.map((i) =>
        writer.markSent({
          tenantId: 'plans',
          direction: 'inbound',
          messageId: `wamid.in-${i}`,
          genesysMessageId: `gm-${i}`,
          at,
        }),
      ),
    ),
  )
  t.ok(inboundSent <= BOUND, `inbound markSent by wamid read ${inboundSent} rows for 10 messages`)

  const states = await readBy(sql, () =>
    Promise.all(ten.map((i) => settlement.state({ tenantId: 'plans', messageId: `g-${i + 2}` }))),
  )
  t.ok(states <= BOUND, `settlement state by Genesys id read ${states} rows for 10 messages`)

  const lookups = await readBy(sql, () =>
    lookupByMessageIds(
      sql,
      'plans',
      'outbound',
      ten.map((i) => `g-${i + 2}`),
    ),
  )
  t.ok(lookups <= BOUND, `lookup by Genesys ids read ${lookups} rows for 10 messages`)

  const statuses = await readBy(sql, () =>
    applyStatuses(
      sql,
      ten.map((i) => ({ tenantId: 'plans', wamid: `wamid.new-${i}`, status: 'delivered' as const, at })),
    ),
  )
  t.ok(statuses <= BOUND, `statuses by wamid read ${statuses} rows for 10 messages`)
  const rows = await lookupByMessageIds(
    sql,
    'plans',
    'outbound',
    ten.map((i) => `g-${i}`),
  )
  t.same(
    [...rows.values()].map((r) => r.status),
    ten.map(() => 'delivered'),
    'every statement changed its own rows',
  )
  await writer.drain()
})
