import { randomBytes, randomUUID } from 'node:crypto'
import t from 'tap'
import { request } from 'undici'
import { inboundMedia } from '../../src/fakes/meta-webhooks.js'
import { startHarness, type Harness } from '../helpers/bridge-harness.js'

/**
 * Item 4 of the security issue on the real stack: media is stored only under an allowed type that
 * matches its bytes, and every presigned link serves it as a download (Content-Disposition:
 * attachment and the checked Content-Type, forced by the signed response-* parameters), so a
 * hostile "document" never opens as a page on the storage origin.
 */

const customer = '447700900123'
const html = Buffer.from('<!DOCTYPE html><html><body><script>fetch("/media-inbound/")</script></body></html>')

async function served(url: string): Promise<{ status: number; type: unknown; disposition: unknown; body: Buffer }> {
  const res = await request(url)
  const body = Buffer.from(await res.body.arrayBuffer())
  return {
    status: res.statusCode,
    type: res.headers['content-type'],
    disposition: res.headers['content-disposition'],
    body,
  }
}

async function sendAttachment(h: Harness, bytes: Buffer, mime: string, filename: string) {
  const url = h.genesys.addDownload(bytes, mime)
  const body = h.genesys.buildOutbound({
    integrationId: h.tenant.genesys.integrationId,
    conversationId: randomUUID(),
    toId: customer,
    attachment: { url, mime, mediaType: 'File', filename },
  })
  t.equal((await h.postGenesys(body)).status, 200)
  return (body as { id: string }).id
}

t.test('media types on the real stack', async (t) => {
  const h = await startHarness()
  t.teardown(() => h.close())

  t.test('an HTML file sent by an agent as a document is refused with MediaTypeNotAllowed', async (t) => {
    for (const [mime, filename, reason] of [
      ['text/html', 'page.html', 'media_type_not_allowed'],
      ['image/svg+xml', 'logo.svg', 'media_type_not_allowed'],
      ['text/plain', 'notes.txt', 'media_type_mismatch'],
      ['application/pdf', 'invoice.pdf', 'media_type_mismatch'],
    ] as const) {
      const id = await sendAttachment(h, html, mime, filename)
      const receipt = await h.genesys.waitFor(
        (r) => r.kind === 'receipt' && (r.body as { id: string }).id === id,
        20_000,
      )
      t.match(receipt.body, { status: 'Failed', reasons: [{ code: 'MediaTypeNotAllowed' }] }, `${mime}: refused`)
      t.match((receipt.body as { reasons: { message: string }[] }).reasons[0]?.message, reason)
      t.notMatch(receipt.raw, 'DOCTYPE', 'nothing of the file in the receipt')
    }
    t.equal(h.meta.received.filter((r) => r.raw.includes('page.html') || r.raw.includes('logo.svg')).length, 0)
  })

  t.test('an allowed document is served through its presigned link as an attachment of its type', async (t) => {
    const pdf = Buffer.concat([Buffer.from('%PDF-1.7\n'), randomBytes(2000)])
    await sendAttachment(h, pdf, 'application/pdf', 'invoice "march".pdf')
    const got = await h.meta.waitFor((r) => r.status === 200 && r.raw.includes('invoice'), 20_000)
    const link = (got.body as { document: { link: string } }).document.link
    const res = await served(link)
    t.equal(res.status, 200)
    t.equal(res.type, 'application/pdf')
    t.equal(res.disposition, 'attachment; filename="invoice _march_.pdf"', 'a download, its name made header-safe')
    t.ok(res.body.equals(pdf))
  })

  t.test("a customer's HTML document is kept, but served only as an octet-stream download", async (t) => {
    const waId = `4477${String(randomBytes(4).readUInt32BE(0)).padStart(10, '0')}`
    const mediaId = h.meta.addMedia(h.tenant.whatsapp.phoneNumberId, html, 'text/html')
    const res = await h.postMeta(
      h.meta.buildWebhook({
        phoneNumberId: h.tenant.whatsapp.phoneNumberId,
        messages: [
          inboundMedia({ from: waId, type: 'document', mediaId, mimeType: 'text/html', filename: 'page.html' }),
        ],
      }),
    )
    t.equal(res.status, 200, res.body)
    const got = await h.genesys.waitFor(
      (r) =>
        r.kind === 'message' &&
        (r.body as { channel: { from: { id: string } } }).channel.from.id === waId &&
        r.urlStatus !== undefined,
      20_000,
    )
    const url = (got.body as { content: { attachment: { url: string } }[] }).content[0]?.attachment.url ?? ''
    const s = await served(url)
    t.equal(s.status, 200)
    t.equal(s.type, 'application/octet-stream', 'never text/html on the storage origin')
    t.equal(s.disposition, 'attachment; filename="page.html.bin"')
    t.ok(s.body.equals(html), 'the bytes are kept')
  })
})
