import { randomBytes } from 'node:crypto'
import { cp, mkdtemp, readdir, rm, writeFile, appendFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { isBridgeError } from '../../../src/errors.js'
import type { TenantSpec } from '../../../src/processors/tenant-spec.js'
import type { Sql } from '../../../src/sinks/db/client.js'
import { getByConversation, upsertMapping } from '../../../src/sinks/db/mappings.js'
import { migrate } from '../../../src/sinks/db/migrate.js'
import { upsertTenant } from '../../../src/sinks/db/tenants.js'
import { createTestDb, MIGRATIONS_DIR } from '../../helpers/db.js'
import { createClaimer } from '../../../src/sinks/db/claims.js'
import { createSettlementStore } from '../../../src/sinks/db/settlement.js'
import { createTrackingWriter } from '../../../src/sinks/db/tracking-outcomes.js'
import { applyStatuses } from '../../../src/sinks/db/delivery-statuses.js'
import { takePendingStatuses } from '../../../src/sinks/db/pending-statuses.js'
import { lookupByMessageIds } from '../../../src/sinks/db/tracking-rows.js'

async function copyMigrations(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'gwb-migrations-'))
  await cp(MIGRATIONS_DIR, dir, { recursive: true })
  return dir
}

t.test('applies every migration once; a second run applies nothing', async (t) => {
  const db = await createTestDb({ migrate: false })
  t.teardown(db.drop)
  const first = await migrate(db.sql, MIGRATIONS_DIR)
  t.ok(first.applied.length >= 1)
  t.equal(first.applied[0], '0001_init')
  const second = await migrate(db.sql, MIGRATIONS_DIR)
  t.same(second.applied, [])
  t.equal(second.current, first.current)
  const tables = await db.sql<{ n: string }[]>`
    select count(*)::text as n from information_schema.tables
    where table_schema = 'public' and table_name in
      ('tenants','tenant_credentials','conversation_mappings','message_tracking','pending_statuses','schema_migrations')`
  t.equal(tables[0]?.n, '6')
})

t.test('concurrent migrators serialise on the advisory lock', async (t) => {
  const db = await createTestDb({ migrate: false })
  t.teardown(db.drop)
  const results = await Promise.all([1, 2, 3, 4].map(() => migrate(db.sql, MIGRATIONS_DIR)))
  const total = results.reduce((n, r) => n + r.applied.length, 0)
  const files = (await readdir(MIGRATIONS_DIR)).filter((f) => /^\d+_.*\.sql$/.test(f))
  t.equal(total, files.length, 'each migration applied by exactly one caller')
})

t.test('a database newer than the build is refused with a clear message', async (t) => {
  const db = await createTestDb()
  t.teardown(db.drop)
  const { current } = await migrate(db.sql, MIGRATIONS_DIR)
  await db.sql`insert into schema_migrations (version, name, checksum) values (${current + 2}, 'future', 'x')`
  const err = await migrate(db.sql, MIGRATIONS_DIR).then(
    () => undefined,
    (e: unknown) => e,
  )
  t.ok(isBridgeError(err) && err.code === 'GWB_MIGRATION')
  t.equal(
    (err as Error).message,
    `database schema version ${current + 2} is newer than this build (${current}); upgrade the bridge`,
  )
})

t.test('a changed applied migration is refused; a new one is applied', async (t) => {
  const db = await createTestDb()
  t.teardown(db.drop)
  const dir = await copyMigrations()
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  await writeFile(join(dir, '9000_extra.sql'), 'create table extra_test (id int primary key);\n')
  const r = await migrate(db.sql, dir)
  t.same(r.applied, ['9000_extra'])
  t.equal(r.current, 9000)
  await appendFile(join(dir, '0001_init.sql'), '\n-- edited\n')
  await t.rejects(migrate(db.sql, dir), { code: 'GWB_MIGRATION', message: /0001_init was changed/ })
})

t.test('a badly named migration file is refused', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'gwb-migrations-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  await writeFile(join(dir, 'init.sql'), 'select 1;')
  const db = await createTestDb({ migrate: false })
  t.teardown(db.drop)
  await t.rejects(migrate(db.sql, dir), { code: 'GWB_MIGRATION' })
})

// ---------------------------------------------------------------------------------------------------
// 0002: tenant-scoped keys on a populated v1 database

const V1_TABLES = ['tenants', 'tenant_credentials', 'conversation_mappings', 'message_tracking', 'pending_statuses']

async function v1Database(t: Test) {
  const db = await createTestDb({ migrate: false })
  t.teardown(db.drop)
  const dir = await mkdtemp(join(tmpdir(), 'gwb-migrations-v1-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  await cp(join(MIGRATIONS_DIR, '0001_init.sql'), join(dir, '0001_init.sql'))
  t.same((await migrate(db.sql, dir)).applied, ['0001_init'])
  const key = randomBytes(32)
  for (const id of ['acme', 'beta']) await upsertTenant(db.sql, key, tenantSpec(id))
  const { sql } = db
  await sql`
    insert into conversation_mappings (tenant_id, conversation_id, wa_id, phone_number_id)
    values ('acme', 'conv-a', '111', 'pn-acme'), ('beta', 'conv-b', '222', 'pn-beta')`
  await sql`
    insert into message_tracking (tenant_id, direction, genesys_message_id, wamid, conversation_id, wa_id, status, sent_at)
    values ('acme', 'outbound', 'g-1', 'w.a1', 'conv-a', '111', 'sent', now()),
           ('beta', 'outbound', 'g-2', 'w.b2', 'conv-b', '222', 'delivered', now()),
           ('acme', 'inbound', 'gen-9', 'w.in-a', 'conv-a', '111', 'sent', now()),
           ('beta', 'outbound', 'g-3', null, 'conv-b', '222', 'claimed', null)`
  await sql`
    insert into pending_statuses (wamid, status, payload)
    values ('w.a1', 'read', ${sql.json({ tenantId: 'acme', topic: 'x' })}),
           ('w.b2', 'read', ${sql.json({ topic: 'written-without-a-tenant' })}),
           ('w.nobody', 'sent', ${sql.json({ topic: 'x' })})`
  return db
}

/** The migrations up to `version` (later ones add columns this upgrade test does not expect). */
async function migrationsUpTo(t: Test, version: number): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'gwb-migrations-upto-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  for (const f of await readdir(MIGRATIONS_DIR)) {
    if (Number(/^(\d+)_/.exec(f)?.[1] ?? Infinity) <= version) await cp(join(MIGRATIONS_DIR, f), join(dir, f))
  }
  return dir
}

function tenantSpec(id: string): TenantSpec {
  return {
    id,
    name: id,
    status: 'active',
    genesys: {
      integrationId: `int-${id}`,
      region: 'mypurecloud.ie',
      clientId: 'c',
      clientSecret: 's',
      webhookSecret: 'w'.repeat(20),
    },
    whatsapp: {
      phoneNumberId: `pn-${id}`,
      businessAccountId: 'b',
      accessToken: 't',
      appSecret: 'a',
      verifyToken: 'v',
    },
  }
}

/** Every row of every table, as text, in a stable order: what must survive the migration. */
async function dump(sql: Sql): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {}
  for (const table of V1_TABLES) {
    const rows = await sql<{ r: string }[]>`select to_jsonb(x)::text as r from ${sql(table)} x`
    out[table] = rows.map((x) => x.r).sort()
  }
  return out
}

const withoutTenantColumn = (rows: string[] | undefined): string[] =>
  (rows ?? [])
    .map((r) => {
      const { tenant_id: _t, ...rest } = JSON.parse(r) as Record<string, unknown>
      return JSON.stringify(rest)
    })
    .sort()

/** 0003 adds the settlement columns (null on every existing row): the rows as v1 had them. */
const withoutSettlement = (rows: string[] | undefined): unknown[] =>
  (rows ?? []).map((r) => {
    const { resent_at: _r, settled_at: _s, late_copy_at: _l, ...rest } = JSON.parse(r) as Record<string, unknown>
    return rest
  })
const parsed = (rows: string[] | undefined): unknown[] => (rows ?? []).map((r) => JSON.parse(r) as unknown)

t.test('0002 upgrades a populated v1 database: every row kept, every key per tenant', async (t) => {
  const db = await v1Database(t)
  const { sql } = db
  const before = await dump(sql)
  t.same(
    Object.values(before).map((rows) => rows.length),
    [2, 4, 2, 4, 3],
    'rows in every table',
  )
  t.same((await migrate(sql, await migrationsUpTo(t, 2))).applied, ['0002_tenant_scoped_keys'])
  // 0003 (settlement columns) on top of the upgraded rows keeps them: its columns are null on each.
  t.same((await migrate(sql, await migrationsUpTo(t, 3))).applied, ['0003_settlement'], '0003 applied after 0002')
  const after = await dump(sql)
  for (const table of ['tenants', 'tenant_credentials', 'conversation_mappings']) {
    t.same(after[table], before[table], `${table}: every row kept as it was`)
  }
  t.same(
    withoutSettlement(after['message_tracking']),
    parsed(before['message_tracking']),
    'message_tracking: every row kept',
  )
  t.same(
    withoutTenantColumn(after['pending_statuses']).map((r) => JSON.parse(r) as unknown),
    withoutTenantColumn(before['pending_statuses']).map((r) => JSON.parse(r) as unknown),
    'pending_statuses: every row kept, plus its tenant',
  )
  const pending = await sql<{ wamid: string; tenant_id: string }[]>`
    select wamid, tenant_id from pending_statuses order by wamid`
  t.same(
    pending.map((p) => [p.wamid, p.tenant_id]),
    [
      ['w.a1', 'acme'],
      ['w.b2', 'beta'],
      ['w.nobody', ''],
    ],
    "the tenant from the payload, else from the tracked send's row, else '' (never re-driven)",
  )

  // 0002's keys carry the tenant.
  const constraints = await sql<{ conname: string }[]>`
    select conname from pg_constraint
    where conrelid in ('message_tracking'::regclass, 'conversation_mappings'::regclass, 'pending_statuses'::regclass)
      and contype in ('p', 'u')
    order by conname`
  t.same(
    constraints.map((c) => c.conname),
    [
      'conversation_mappings_pkey',
      'message_tracking_pkey',
      'message_tracking_tenant_direction_genesys_key',
      'message_tracking_tenant_direction_wamid_key',
      'pending_statuses_pkey',
    ],
  )

  // The code of this build runs on this build's schema: the later migrations first (columns; 0008 makes
  // the message keys partial).
  await migrate(sql, MIGRATIONS_DIR)
  // Queries by tenant find each tenant's rows and nothing of the other's.
  t.equal((await getByConversation(sql, 'acme', 'conv-a'))?.waId, '111')
  t.equal(await getByConversation(sql, 'beta', 'conv-a'), undefined)
  t.equal((await lookupByMessageIds(sql, 'beta', 'outbound', ['g-2'])).get('g-2')?.status, 'delivered')
  t.equal((await lookupByMessageIds(sql, 'acme', 'outbound', ['g-2'])).size, 0)
  const [foreign, own] = [
    ...(await applyStatuses(sql, [{ tenantId: 'beta', wamid: 'w.a1', status: 'read', at: new Date() }])),
    ...(await applyStatuses(sql, [{ tenantId: 'acme', wamid: 'w.a1', status: 'read', at: new Date() }])),
  ]
  t.match(foreign, { found: false })
  t.match(own, { found: true, changed: true, current: 'read', genesysMessageId: 'g-1' })
  t.same(
    (await takePendingStatuses(sql, 'beta', ['w.b2'])).map((p) => p.status),
    ['read'],
  )

  // The keys the old schema shared across tenants are free for the other tenant now.
  const claimer = createClaimer(sql, { maxSize: 10, maxWaitMs: 1 })
  t.notOk(await claimer.claim({ tenantId: 'acme', direction: 'outbound', messageId: 'g-1' }), 'still a duplicate')
  t.ok(await claimer.claim({ tenantId: 'beta', direction: 'outbound', messageId: 'g-1' }), "acme's id is free for beta")
  t.ok(await claimer.claim({ tenantId: 'beta', direction: 'inbound', messageId: 'w.in-a' }))
  const other = await upsertMapping(sql, {
    tenantId: 'beta',
    conversationId: 'conv-a',
    waId: '999',
    phoneNumberId: 'pn-beta',
  })
  t.equal(other.waId, '999', "beta's conv-a is its own conversation")
  t.equal((await getByConversation(sql, 'acme', 'conv-a'))?.waId, '111')
  await claimer.drain()
})

t.test('0002 attaches indexes built beforehand with CONCURRENTLY, and rebuilds an invalid one', async (t) => {
  const db = await v1Database(t)
  const { sql } = db
  await sql`create unique index concurrently conversation_mappings_tenant_conv_key
    on conversation_mappings (tenant_id, conversation_id)`
  await sql`create unique index concurrently message_tracking_tenant_genesys_key
    on message_tracking (tenant_id, direction, genesys_message_id)`
  await sql`create unique index concurrently message_tracking_tenant_wamid_key
    on message_tracking (tenant_id, direction, wamid)`
  // What a concurrent build that failed half-way leaves behind.
  await sql`update pg_index set indisvalid = false
    where indexrelid = 'message_tracking_tenant_wamid_key'::regclass`
  const before = await dump(sql)
  t.same((await migrate(sql, await migrationsUpTo(t, 2))).applied, ['0002_tenant_scoped_keys'])
  // 0003 (settlement columns) on top of the upgraded rows keeps them: its columns are null on each.
  t.same((await migrate(sql, await migrationsUpTo(t, 3))).applied, ['0003_settlement'], '0003 applied after 0002')
  const after = await dump(sql)
  t.same(withoutSettlement(after['message_tracking']), parsed(before['message_tracking']))
  const invalid = await sql`select 1 from pg_index where not indisvalid and indrelid = 'message_tracking'::regclass`
  t.equal(invalid.length, 0, 'no invalid index left')
  const claimer = createClaimer(sql, { maxSize: 10, maxWaitMs: 1 })
  t.ok(await claimer.claim({ tenantId: 'beta', direction: 'inbound', messageId: 'w.in-a' }))
  t.notOk(await claimer.claim({ tenantId: 'beta', direction: 'inbound', messageId: 'w.in-a' }))
  await claimer.drain()
})

t.test('0005 and 0006 upgrade a populated database at 0004: every row kept, the new columns empty', async (t) => {
  const db = await v1Database(t)
  const { sql } = db
  await migrate(sql, await migrationsUpTo(t, 4))
  // A message in the middle of its retries when the upgrade runs.
  await sql`update message_tracking set status = 'retrying', error_code = '500' where genesys_message_id = 'g-3'`
  const before = await dump(sql)
  const applied = (await migrate(sql, await migrationsUpTo(t, 6))).applied
  t.same(applied, ['0005_first_failed_at', '0006_receipt_owed'])
  const added = ['first_failed_at', 'receipt_owed']
  const after = (await dump(sql))['message_tracking']?.map((r) => JSON.parse(r) as Record<string, unknown>) ?? []
  for (const row of after) for (const column of added) t.equal(row[column], null, `${column} empty on existing rows`)
  t.same(
    after.map((row) => Object.fromEntries(Object.entries(row).filter(([k]) => !added.includes(k)))),
    parsed(before['message_tracking']),
    'message_tracking: every row kept as it was',
  )
  // The retrying row's clock starts at its next failure, as before the upgrade.
  const writer = createTrackingWriter(sql, { maxSize: 10, maxWaitMs: 1 })
  const claimer = createClaimer(sql, { maxSize: 10, maxWaitMs: 1 })
  t.ok(await claimer.claim({ tenantId: 'beta', direction: 'outbound', messageId: 'g-3' }))
  const at = new Date('2026-01-01T00:00:00Z')
  const ref = { tenantId: 'beta', direction: 'outbound' as const, messageId: 'g-3' }
  t.ok(await writer.markRetrying({ ...ref, errorCode: '500', errorText: 'x', at }))
  const settlement = createSettlementStore(sql, { maxSize: 10, maxWaitMs: 1 })
  t.same((await settlement.state({ tenantId: 'beta', messageId: 'g-3' }))?.firstFailedAt, at)
})

t.test(
  '0007 upgrades a populated database at 0006: every row kept, nothing owed, statuses owe from then on',
  async (t) => {
    const db = await v1Database(t)
    const { sql } = db
    await migrate(sql, await migrationsUpTo(t, 6))
    const before = await dump(sql)
    t.same((await migrate(sql, await migrationsUpTo(t, 7))).applied, ['0007_status_receipt_owed'])
    const after = (await dump(sql))['message_tracking']?.map((r) => JSON.parse(r) as Record<string, unknown>) ?? []
    for (const row of after) t.equal(row['status_receipt_owed'], null, 'nothing owed on existing rows')
    t.same(
      after.map(({ status_receipt_owed: _o, ...rest }) => rest),
      parsed(before['message_tracking']),
      'message_tracking: every row kept as it was',
    )
    // A delivered row from before the upgrade owes nothing: a late read of it calls for no receipt.
    const due = { status: 'Delivered' as const, time: new Date().toISOString() }
    const [late] = await applyStatuses(sql, [
      { tenantId: 'beta', wamid: 'w.b2', status: 'read', at: new Date(), receiptDue: due },
    ])
    t.match(late, { changed: true, current: 'read' })
    t.equal(late?.receiptOwed, undefined)
    // A sent one moving to read after the upgrade owes its Delivered receipt.
    const [moved] = await applyStatuses(sql, [
      { tenantId: 'acme', wamid: 'w.a1', status: 'read', at: new Date(), receiptDue: due },
    ])
    t.same(moved?.receiptOwed, due)
  },
)

t.test(
  '0008 turns the message keys into partial indexes on a populated database: rows kept, still unique',
  async (t) => {
    const db = await v1Database(t)
    const { sql } = db
    await migrate(sql, await migrationsUpTo(t, 7))
    const before = await dump(sql)
    t.same((await migrate(sql, MIGRATIONS_DIR)).applied, ['0008_partial_message_keys'])
    t.same(await dump(sql), before, 'every row kept as it was')
    const indexes = await sql<{ name: string; def: string }[]>`
    select indexname as name, indexdef as def from pg_indexes
    where tablename = 'message_tracking' and indexdef like 'CREATE UNIQUE%' order by indexname`
    t.same(
      indexes.map((i) => i.name),
      ['message_tracking_genesys_key', 'message_tracking_pkey', 'message_tracking_wamid_key'],
    )
    t.match(indexes[0]?.def, /WHERE \(genesys_message_id IS NOT NULL\)/)
    t.match(indexes[2]?.def, /WHERE \(wamid IS NOT NULL\)/)
    // The claims still decide: an existing message is a duplicate, per tenant, in both directions.
    const claimer = createClaimer(sql, { maxSize: 10, maxWaitMs: 1 })
    t.notOk(await claimer.claim({ tenantId: 'acme', direction: 'outbound', messageId: 'g-1' }), 'still a duplicate')
    t.ok(await claimer.claim({ tenantId: 'acme', direction: 'outbound', messageId: 'g-new' }))
    t.notOk(await claimer.claim({ tenantId: 'acme', direction: 'outbound', messageId: 'g-new' }))
    t.ok(await claimer.claim({ tenantId: 'beta', direction: 'inbound', messageId: 'w.in-new' }))
    t.notOk(await claimer.claim({ tenantId: 'beta', direction: 'inbound', messageId: 'w.in-new' }))
    await claimer.drain()
    await t.rejects(
      sql`insert into message_tracking (tenant_id, direction, wamid, status) values ('acme', 'outbound', 'w.a1', 'sent')`,
      { code: '23505' },
      'a second row with a tracked wamid is refused',
    )
  },
)
