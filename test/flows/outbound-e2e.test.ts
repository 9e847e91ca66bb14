import t from 'tap'
import { randomUUID } from 'node:crypto'
import { waitArchived } from '../helpers/archive.js'
import { startHarness } from '../helpers/bridge-harness.js'
import { waitForTracking } from '../helpers/tracking.js'
import { s3Location } from '../../src/config/s3-layout.js'
import { BUCKETS } from '../../src/processors/object-keys.js'

const customer = '447700900123'

t.test('outbound flow on the real stack', async (t) => {
  const h = await startHarness()
  t.teardown(() => h.close())

  t.test(
    'a signed text webhook reaches the fake Meta once, with a tracking row and an archived raw object',
    async (t) => {
      const conversationId = randomUUID()
      const body = h.genesys.buildOutbound({
        integrationId: h.tenant.genesys.integrationId,
        conversationId,
        toId: customer,
        text: 'We can help you with that',
      })
      const raw = JSON.stringify(body)
      const res = await h.postGenesys(body, { raw })
      t.equal(res.status, 200, res.body)

      const got = await h.meta.waitFor((r) => r.status === 200 && r.raw.includes('We can help you with that'), 20_000)
      t.same(got.body, {
        messaging_product: 'whatsapp',
        recipient_type: 'individual',
        to: customer,
        type: 'text',
        text: { preview_url: false, body: 'We can help you with that' },
        // Names the message, so Meta's statuses of it can settle an unknown outcome (issue 12).
        biz_opaque_callback_data: `gwb1:${h.tenant.id}:${(body as { id: string }).id}`,
      })
      t.equal(got.token, h.tenant.whatsapp.accessToken, 'the tenant’s WhatsApp token')
      t.equal(got.phoneNumberId, h.tenant.whatsapp.phoneNumberId)

      const id = (body as { id: string }).id
      const row = await waitForTracking(h.bridge.resources.sql, id, 'sent')
      t.equal(row.wamid, got.wamid, 'the wamid Meta answered is tracked')

      const archived = await waitArchived(h.bridge.resources.store, BUCKETS.webhooksOutbound, h.tenant.id, (w) =>
        w.payload.toString().includes(conversationId),
      )
      t.equal(archived.length, 1, 'the webhook archived once')
      t.equal(archived[0]?.payload.toString(), raw, 'archived bytes are the raw body exactly')
    },
  )

  t.test('an attachment (PDF) reaches Meta as a document link whose bytes equal the original', async (t) => {
    const pdf = Buffer.concat([
      Buffer.from('%PDF-1.4\n'),
      Buffer.from(randomUUID().repeat(500)),
      Buffer.from('\n%%EOF'),
    ])
    const url = h.genesys.addDownload(pdf, 'application/pdf', { requireAuth: true, filename: 'invoice.pdf' })
    const body = h.genesys.buildOutbound({
      integrationId: h.tenant.genesys.integrationId,
      conversationId: randomUUID(),
      toId: customer,
      text: 'Here is your invoice',
      attachment: { url, mime: 'application/pdf', mediaType: 'File', filename: 'invoice.pdf' },
    })
    t.equal((await h.postGenesys(body)).status, 200)
    const got = await h.meta.waitFor((r) => r.status === 200 && r.raw.includes('invoice.pdf'), 20_000)
    const sent = got.body as { type: string; document: { link: string; filename: string; caption?: string } }
    t.equal(sent.type, 'document')
    t.equal(sent.document.filename, 'invoice.pdf')
    t.equal(sent.document.caption, 'Here is your invoice')
    const { bucket } = s3Location(h.config.s3.layout, BUCKETS.mediaOutbound)
    t.match(sent.document.link, new RegExp(`^http://127\\.0\\.0\\.1:\\d+/${bucket}/`), 'a presigned link to our copy')
    for (let i = 0; i < 50 && got.linkStatus === undefined; i++) await new Promise((r) => setTimeout(r, 100))
    t.equal(got.linkStatus, 200, 'the fake Meta could download the link')
    t.ok(got.linkBody?.equals(pdf), 'downloaded bytes equal the original attachment')
  })

  t.test('the same webhook posted twice is sent once', async (t) => {
    const body = h.genesys.buildOutbound({
      integrationId: h.tenant.genesys.integrationId,
      conversationId: randomUUID(),
      toId: customer,
      text: `twice ${randomUUID()}`,
    })
    const id = (body as { id: string }).id
    t.equal((await h.postGenesys(body)).status, 200)
    await waitForTracking(h.bridge.resources.sql, id, 'sent')
    t.equal((await h.postGenesys(body)).status, 200, 'a Genesys retry is acknowledged')
    // A third copy after the second: when it has been handled, the second surely has been too.
    const marker = h.genesys.buildOutbound({
      integrationId: h.tenant.genesys.integrationId,
      conversationId: (body as { conversationId: string }).conversationId,
      toId: customer,
      text: `marker ${randomUUID()}`,
    })
    t.equal((await h.postGenesys(marker)).status, 200)
    await waitForTracking(h.bridge.resources.sql, (marker as { id: string }).id, 'sent')
    const text = (body as { text: string }).text
    t.equal(h.meta.received.filter((r) => r.raw.includes(text)).length, 1, 'the customer got it once')
  })
})
