import t from 'tap'
import postgres from 'postgres'
import { Redis } from 'ioredis'
import { privatePostgres, privateRedis, privateS3 } from '../helpers/private-servers.js'

t.test('private PostgreSQL: own port, stop and start again, data kept', async (t) => {
  const pg = await privatePostgres()
  t.teardown(() => pg.close())
  await pg.start()
  const sql = postgres(pg.endpoint, { max: 1, onnotice: () => undefined })
  t.teardown(() => sql.end({ timeout: 1 }))
  await sql`create table x (id int)`
  await sql`insert into x values (1)`
  await pg.stop()
  await t.rejects(sql`select 1`)
  await pg.start()
  const rows = await sql<{ id: number }[]>`select id from x`
  t.same(
    rows.map((r) => r.id),
    [1],
  )
})

t.test('private Redis: kill and restart', async (t) => {
  const r = await privateRedis()
  t.teardown(() => r.close())
  await r.start()
  const c = new Redis(r.endpoint, { maxRetriesPerRequest: 0, lazyConnect: true })
  c.on('error', () => undefined)
  t.teardown(() => c.disconnect())
  await c.connect()
  t.equal(await c.ping(), 'PONG')
  await r.stop('kill')
  t.notOk(r.running)
  await r.start()
  t.ok(r.running)
})

t.test('private S3Proxy: start and stop (Kafka is exercised by kafka-down.test.ts)', async (t) => {
  const s3 = await privateS3()
  t.teardown(() => s3.close())
  await s3.start()
  t.ok(s3.running)
  await s3.stop()
  t.notOk(s3.running)
})
