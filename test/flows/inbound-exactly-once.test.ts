import t from 'tap'
import { inboundText, newWamid } from '../../src/fakes/meta-webhooks.js'
import { startHarness } from '../helpers/bridge-harness.js'
import { checkInboundDelivery, inboundBodyOf, startInboundTraffic } from '../helpers/inbound-traffic.js'

t.test('inbound: a claimed message is finished, never dropped as its own duplicate', async (t) => {
  const h = await startHarness({ ROLES: 'ingest,inbound' })
  t.teardown(() => h.close())

  t.test('an exception after the claim (Genesys login fails on the network) → delivered once', async (t) => {
    const tenant = await h.newTenant()
    // The tenant's first token request: the claim is taken, then the login throws.
    h.genesys.failNext(1, { drop: true }, { kind: 'token' })
    const wamid = newWamid()
    const res = await h.postMeta(
      h.meta.buildWebhook({
        phoneNumberId: tenant.whatsapp.phoneNumberId,
        messages: [inboundText({ from: '447711100001', id: wamid, body: 'after the claim' })],
      }),
      { tenant },
    )
    t.equal(res.status, 200)
    const ofWamid = (r: { kind: string; body: unknown }) =>
      r.kind === 'message' && inboundBodyOf(r as never).channel?.messageId === wamid
    await h.genesys.waitFor((r) => ofWamid(r) && r.status === 200, 30_000)
    await new Promise((r) => setTimeout(r, 1000))
    t.equal(h.genesys.received.filter((r) => ofWamid(r) && r.status === 200).length, 1, 'delivered once')
    const [row] = await h.bridge.resources.sql<{ status: string }[]>`
      select status from message_tracking where direction = 'inbound' and wamid = ${wamid}`
    t.equal(row?.status, 'sent')
  })

  t.test('an unknown Genesys outcome (no answer, a bare 502) is retried, not dropped', async (t) => {
    const tenant = await h.newTenant()
    const match = { kind: 'message' as const, integrationId: tenant.genesys.integrationId }
    h.genesys.failNext(2, { drop: true }, match)
    h.genesys.failNext(2, { status: 502, body: 'Bad Gateway' }, match)
    const tr = startInboundTraffic(h, { customers: 2, perCustomer: 5, pauseMs: 0, tenant })
    await checkInboundDelivery(t, tr, 30_000)
  })
})
