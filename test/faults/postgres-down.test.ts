import t from 'tap'
import postgres from 'postgres'
import { startHarness } from '../helpers/bridge-harness.js'
import { privatePostgres } from '../helpers/private-servers.js'
import { checkDelivery, startTraffic } from '../helpers/fault-traffic.js'

t.test('PostgreSQL stopped for 20 s: processors pause without committing, nothing lost or doubled after', async (t) => {
  const pg = await privatePostgres()
  t.teardown(() => pg.close())
  await pg.start()
  const h = await startHarness({ DATABASE_URL: pg.endpoint })
  t.teardown(() => h.close())

  const tr = startTraffic(h, { conversations: 20, perConversation: 25, pauseMs: 200, waPrefix: '44784' })
  await h.meta.waitForCount(60, tr.mine, 30_000)
  const stoppedAt = Date.now()
  await pg.stop('clean')
  const sentAtStop = h.meta.received.filter(tr.mine).length
  await new Promise((r) => setTimeout(r, 20_000))
  // Sends that began before the stop may still land in its first seconds; after that none can
  // (each send needs its claim row).
  const lateSends = h.meta.received.filter((r) => tr.mine(r) && r.arrivedAt > stoppedAt + 3000).length
  const restarting = Date.now()
  await pg.start()
  t.comment(`PostgreSQL down ${restarting - stoppedAt} ms, back in ${Date.now() - restarting} ms`)

  const counts = await checkDelivery(t, h, tr, 90_000)
  t.equal(lateSends, 0, 'nothing was sent while the database was down (no claim, no send)')
  t.ok(sentAtStop < tr.total, `stopped mid-stream (${sentAtStop} of ${tr.total} sent)`)

  const sql = postgres(pg.endpoint, { max: 1, onnotice: () => undefined })
  t.teardown(() => sql.end({ timeout: 1 }))
  let rows = 0
  for (let i = 0; i < 40; i++) {
    const [row] = await sql<{ n: number }[]>`
      select count(*)::int as n from message_tracking
      where tenant_id = ${h.tenant.id} and direction = 'outbound' and wamid is not null`
    rows = row?.n ?? 0
    if (rows >= tr.total) break
    await new Promise((r) => setTimeout(r, 250))
  }
  const statuses = await sql<{ status: string; n: number; error_code: string | null }[]>`
    select status, error_code, count(*)::int as n from message_tracking
    where tenant_id = ${h.tenant.id} and direction = 'outbound' group by 1, 2`
  t.comment(`tracking rows by status: ${JSON.stringify(statuses)}`)
  const rowsAll = statuses.reduce((a, r) => a + r.n, 0)
  t.equal(rowsAll, tr.total, 'one tracking row per message')
  // A send answered while the database was away is recorded once it is back (durable tracking
  // writes), so every row carries its wamid and later statuses can find it.
  t.equal(rows, tr.total, 'every sent message recorded with its wamid')
  t.comment(`refusals at ingest while PostgreSQL was down: ${JSON.stringify(tr.stats)}; ${JSON.stringify(counts)}`)
})
