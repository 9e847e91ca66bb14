import t from 'tap'
import { randomUUID } from 'node:crypto'
import { startHarness } from '../helpers/bridge-harness.js'

t.test('a signed text webhook reaches the fake Meta once, tracked and archived', async (t) => {
  const h = await startHarness()
  t.teardown(() => h.close())
  const conversationId = randomUUID()
  const body = h.genesys.buildOutbound({
    integrationId: h.tenant.genesys.integrationId,
    conversationId,
    toId: '447700900123',
    text: 'We can help you with that',
  })
  const res = await h.postGenesys(body)
  t.equal(res.status, 200, res.body)

  const got = await h.meta.waitFor((r) => r.status === 200, 20_000)
  t.same(got.body, {
    messaging_product: 'whatsapp',
    recipient_type: 'individual',
    to: '447700900123',
    type: 'text',
    text: { preview_url: false, body: 'We can help you with that' },
  })
  t.equal(got.token, h.tenant.whatsapp.accessToken)
  t.equal(got.phoneNumberId, h.tenant.whatsapp.phoneNumberId)

  const id = (body as { id: string }).id
  const sql = h.bridge.resources.sql
  let row: { status: string; wamid: string | null }[] = []
  for (let i = 0; i < 100 && row[0]?.status !== 'sent'; i++) {
    row =
      await sql`select status, wamid from message_tracking where direction = 'outbound' and genesys_message_id = ${id}`
    if (row[0]?.status !== 'sent') await new Promise((r) => setTimeout(r, 100))
  }
  t.equal(row[0]?.status, 'sent')
  t.equal(row[0]?.wamid, got.wamid)
})
