import { cp, mkdtemp, rm, writeFile, appendFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { isBridgeError } from '../../../src/errors.js'
import { migrate } from '../../../src/sinks/db/migrate.js'
import { createTestDb, MIGRATIONS_DIR } from '../../helpers/db.js'

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
  t.equal(total, results[0]?.current, 'each migration applied by exactly one caller')
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
