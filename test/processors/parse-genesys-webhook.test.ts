import t from 'tap'
import { parseGenesysWebhook } from '../../src/processors/parse-genesys-webhook.js'

const integrationId = '5b0a7c1e-3d2f-4a6b-9c8d-0e1f2a3b4c5d'
const pdf = {
  id: '9f1c0d7e2b4a4e21a3f5c6d7e8f90a1b',
  channel: {
    id: integrationId,
    platform: 'Open',
    type: 'Private',
    messageId: '9f1c0d7e2b4a4e21a3f5c6d7e8f90a1b',
    to: { id: '447700900123', idType: 'Phone' },
    from: { id: integrationId, idType: 'Opaque', nickname: 'WA Bridge' },
    time: '2025-03-04T10:15:30.120Z',
  },
  conversationId: '0c9e8d7f-6a5b-4c3d-8e2f-1a0b9c8d7e6f',
  direction: 'Outbound',
  originatingEntity: 'Human',
  type: 'Text',
  text: 'Here is your invoice',
  content: [
    {
      contentType: 'Attachment',
      attachment: {
        id: 'a1b2c3d4-0000-4000-8000-aabbccddeeff',
        mediaType: 'File',
        url: 'https://api-downloads.mypurecloud.ie/api/v2/downloads/abc123',
        mime: 'application/pdf',
        filename: 'invoice.pdf',
        contentSizeBytes: 48213,
      },
    },
  ],
}

const parse = (v: unknown) => parseGenesysWebhook(Buffer.from(JSON.stringify(v)))
const reasonOf = (v: unknown) => {
  const r = parse(v)
  return r.ok ? 'ok' : r.reason
}
const clone = <T>(v: T): T => structuredClone(v)

t.test('the facts example parses to the same structure', async (t) => {
  const r = parse(pdf)
  t.ok(r.ok)
  if (r.ok) t.same(r.value, pdf)
})

t.test('conversationId is optional; nulls count as absent', async (t) => {
  const v = clone(pdf) as Record<string, unknown>
  delete v.conversationId
  v.text = null
  const r = parse(v)
  t.ok(r.ok)
  if (r.ok) {
    t.equal(r.value.conversationId, undefined)
    t.notOk('text' in r.value)
  }
  t.equal(reasonOf({ ...pdf, conversationId: '' }), 'conversationId must be a non-empty string')
})

t.test('template, quick reply, typing event and unknown content types', async (t) => {
  const tmpl = {
    ...pdf,
    type: 'Structured',
    content: [
      {
        contentType: 'Notification',
        template: {
          id: 'ns-1234@order_update',
          language: 'en_US',
          header: { type: 'Media', media: { url: 'https://x.test/h.jpg', mime: 'image/jpeg', mediaType: 'Image' } },
          body: { text: 'Hi {{1}}', parameters: [{ name: '1', text: 'Sam' }] },
        },
      },
      { contentType: 'QuickReply', quickReply: { text: 'Yes', payload: 'yes', action: 'Message' } },
      { contentType: 'Card', card: {} },
    ],
  }
  const r = parse(tmpl)
  t.ok(r.ok)
  if (!r.ok) return
  t.same(r.value.content?.[0], tmpl.content[0])
  t.same(r.value.content?.[1], tmpl.content[1])
  t.same(r.value.content?.[2], { contentType: 'Unsupported', originalType: 'Card' })

  const typing = parse({
    ...pdf,
    type: 'Event',
    content: undefined,
    events: [{ eventType: 'Typing', typing: { type: 'On', duration: 5000 } }],
  })
  t.ok(typing.ok)
  if (typing.ok) t.same(typing.value.events, [{ eventType: 'Typing', typing: { type: 'On', duration: 5000 } }])
})

t.test('reasons name the field', async (t) => {
  t.equal(reasonOf({ ...pdf, channel: { ...pdf.channel, id: '' } }), 'channel.id must be a non-empty string')
  t.equal(reasonOf({ ...pdf, channel: { ...pdf.channel, id: 42 } }), 'channel.id must be a non-empty string')
  t.equal(reasonOf({ ...pdf, channel: { ...pdf.channel, to: {} } }), 'channel.to.id must be a non-empty string')
  t.equal(reasonOf({ ...pdf, channel: { ...pdf.channel, to: ['x'] } }), 'channel.to must be an object')
  t.equal(reasonOf({ ...pdf, channel: [] }), 'channel must be an object')
  t.equal(reasonOf({ ...pdf, id: undefined }), 'id must be a non-empty string')
  t.equal(reasonOf({ ...pdf, type: 'Typing' }), 'type must be one of Text|Structured|Receipt|Event')
  t.equal(reasonOf({ ...pdf, text: 7 }), 'text must be a string')
  t.equal(reasonOf({ ...pdf, content: {} }), 'content must be an array')
  t.equal(reasonOf({ ...pdf, content: [null] }), 'content[0] must be an object')
  t.equal(reasonOf({ ...pdf, content: [{ contentType: 'Attachment' }] }), 'content[0].attachment must be an object')
  t.equal(
    reasonOf({ ...pdf, content: [{ contentType: 'Attachment', attachment: { mediaType: 'Pdf' } }] }),
    'content[0].attachment.mediaType must be one of Image|Video|Audio|File|Link',
  )
  t.equal(
    reasonOf({
      ...pdf,
      content: [{ contentType: 'Attachment', attachment: { mediaType: 'File', contentSizeBytes: '1' } }],
    }),
    'content[0].attachment.contentSizeBytes must be a finite number',
  )
  t.equal(
    reasonOf({
      ...pdf,
      content: [{ contentType: 'Notification', template: { id: 'x', body: { parameters: [{ name: 'a' }] } } }],
    }),
    'content[0].template.body.parameters[0].text must be a string',
  )
  t.equal(reasonOf({ ...pdf, events: [{ typing: {} }] }), 'events[0].eventType must be a non-empty string')
  t.equal(reasonOf({ ...pdf, metadata: { a: 1 } }), 'metadata.a must be a string')
  t.equal(reasonOf({ ...pdf, isFinalReceipt: 'yes' }), 'isFinalReceipt must be a boolean')
})

t.test('non-object roots, bad JSON, oversize and deep nesting are reasons, not crashes', async (t) => {
  for (const raw of ['[]', 'null', '"x"', '42', 'true']) {
    const r = parseGenesysWebhook(Buffer.from(raw))
    t.same(r, { ok: false, reason: 'body must be an object' }, raw)
  }
  const bad = parseGenesysWebhook(Buffer.from('{"id":'))
  t.notOk(bad.ok)
  if (!bad.ok) t.match(bad.reason, /^body is not valid JSON/)
  const big = parseGenesysWebhook(Buffer.from(JSON.stringify(pdf)), 10)
  t.notOk(big.ok)
  if (!big.ok) t.match(big.reason, /more than 10/)
  const deep = parseGenesysWebhook(Buffer.from('{"id":' + '['.repeat(200000) + ']'.repeat(200000) + '}'), 10_000_000)
  t.notOk(deep.ok)
})

t.test("metadata.conversationId (the seed's example) stands in for an absent conversationId", async (t) => {
  const v = { ...pdf, metadata: { conversationId: 'abc-123' } } as Record<string, unknown>
  delete v.conversationId
  const r = parseGenesysWebhook(Buffer.from(JSON.stringify(v)))
  t.equal(r.ok ? r.value.conversationId : undefined, 'abc-123')
  const both = parseGenesysWebhook(Buffer.from(JSON.stringify({ ...pdf, metadata: { conversationId: 'other' } })))
  t.equal(both.ok ? both.value.conversationId : undefined, pdf.conversationId, 'the top-level one wins')
})
