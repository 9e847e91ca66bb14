import t from 'tap'
import { startHarness } from '../helpers/bridge-harness.js'
import { checkInboundDelivery, startInboundTraffic } from '../helpers/inbound-traffic.js'

/**
 * The Genesys inbound API away while customers write (ingest has answered Meta 200, so Meta will not
 * resend): every message waits, its customer's next ones behind it, and all reach Genesys once, in
 * order, when it is back. The outage lengths are the (20 s answering 503, 60 s refusing
 * connections); GWB_TEST_GENESYS_DOWN_MS and GWB_TEST_GENESYS_UNREACHABLE_MS shorten them for a
 * quick run without changing what is asserted.
 */
const downMs = Number(process.env['GWB_TEST_GENESYS_DOWN_MS'] ?? 20_000)
const unreachableMs = Number(process.env['GWB_TEST_GENESYS_UNREACHABLE_MS'] ?? 60_000)

t.test('Genesys inbound API down', async (t) => {
  const h = await startHarness({ ROLES: 'ingest,inbound' })
  t.teardown(() => h.close())

  for (const [mode, ms] of [
    ['503', downMs],
    ['refuse', unreachableMs],
  ] as const) {
    t.test(`${mode === '503' ? 'answering 503' : 'refusing connections'} for ${ms / 1000} s`, async (t) => {
      const tenant = await h.newTenant()
      const tr = startInboundTraffic(h, { customers: 10, perCustomer: 12, pauseMs: 100, tenant })
      // Some traffic through first, so the outage hits conversations in the middle.
      await h.genesys.waitForCount(20, (r) => r.kind === 'message' && r.status === 200 && tr.stored().includes(r))
      await h.genesys.down(mode)
      // A post already being answered when the fake went down may still finish.
      const downAt = Date.now() + 500
      await new Promise((r) => setTimeout(r, ms))
      const storedDuring = tr.stored().filter((r) => r.arrivedAt > downAt).length
      await h.genesys.up()
      t.equal(storedDuring, 0, 'nothing reached Genesys while it was down')
      await checkInboundDelivery(t, tr, 120_000)
      const dead = await h.bridge.resources.sql<{ n: number }[]>`
        select count(*)::int as n from message_tracking
        where tenant_id = ${tenant.id} and direction = 'inbound' and status <> 'sent'`
      t.equal(dead[0]?.n, 0, 'every tracking row sent: none dead-lettered or failed')
    })
  }
})
