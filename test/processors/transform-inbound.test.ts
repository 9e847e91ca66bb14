import t from 'tap'
import type { MetaInboundItem } from '../../src/processors/split-meta-webhook.js'
import { inboundMediaRef, transformInbound } from '../../src/processors/transform-inbound.js'
import type { MetaInboundMessage } from '../../src/processors/types/meta.js'

const ctx = { integrationId: '5b0a7c1e-3d2f-4a6b-9c8d-0e1f2a3b4c5d' }
const url = 'https://media.example.test/presigned/abc.jpg?sig=xyz'
const item = (message: Partial<MetaInboundMessage>, profileName: string | null = 'Sam Lee'): MetaInboundItem => {
  const m = { from: '447700900123', id: 'wamid.IN1', timestamp: '1741083242', type: 'text', ...message }
  return {
    phoneNumberId: '106540352242922',
    displayPhoneNumber: '15550001111',
    waId: '447700900123',
    wamid: 'wamid.IN1',
    timestampMs: 1741083242000,
    ...(profileName === null ? {} : { profileName }),
    message: m,
    json: JSON.stringify(m),
  }
}
const channel = {
  platform: 'Open',
  type: 'Private',
  messageId: 'wamid.IN1',
  to: { id: ctx.integrationId },
  from: { id: '447700900123', idType: 'Phone', nickname: 'Sam Lee' },
  time: '2025-03-04T10:14:02.000Z',
}
const textOf = (m: Partial<MetaInboundMessage>) => {
  const r = transformInbound(item(m), ctx)
  return r.kind === 'ok' ? r.value.text : r.kind
}

t.test('text', async (t) => {
  t.same(transformInbound(item({ text: { body: 'hello' } }), ctx), {
    kind: 'ok',
    value: { channel, type: 'Text', direction: 'Inbound', text: 'hello' },
  })
  const r = transformInbound(item({ text: { body: 'hi' } }, null), ctx)
  t.same(
    r.kind === 'ok' && r.value.channel.from,
    { id: '447700900123', idType: 'Phone' },
    'no nickname without profile',
  )
})

t.test('image with caption becomes an attachment with the re-hosted URL', async (t) => {
  const image = { id: '1203948576', mime_type: 'image/jpeg', sha256: 'b64hash=', caption: 'Photo of the damage' }
  t.same(transformInbound(item({ type: 'image', image }), { ...ctx, mediaUrl: url }), {
    kind: 'ok',
    value: {
      channel,
      type: 'Text',
      direction: 'Inbound',
      text: 'Photo of the damage',
      content: [
        {
          contentType: 'Attachment',
          attachment: { mediaType: 'Image', url, mime: 'image/jpeg', text: 'Photo of the damage' },
        },
      ],
    },
  })
  const r = transformInbound(item({ type: 'image', image }), ctx)
  t.equal(r.kind, 'fail', 'no re-hosted URL')
  if (r.kind === 'fail') t.equal(r.error.code, 'GWB_MEDIA')
})

t.test('document, audio, video, sticker map to File, Audio, Video, Image', async (t) => {
  const kinds = [
    ['document', 'File', { id: 'm1', mime_type: 'application/pdf', filename: 'inv.pdf' }],
    ['audio', 'Audio', { id: 'm2', mime_type: 'audio/ogg', voice: true }],
    ['video', 'Video', { id: 'm3', mime_type: 'video/mp4' }],
    ['sticker', 'Image', { id: 'm4', mime_type: 'image/webp', animated: false }],
  ] as const
  for (const [type, mediaType, obj] of kinds) {
    const r = transformInbound(item({ type, [type]: obj }), { ...ctx, mediaUrl: url })
    t.equal(r.kind === 'ok' && r.value.content?.[0]?.attachment.mediaType, mediaType, type)
  }
  const doc = transformInbound(item({ type: 'document', document: { id: 'm1', filename: 'x.bin' } }), {
    ...ctx,
    mediaUrl: url,
  })
  t.same(doc.kind === 'ok' && doc.value.content?.[0]?.attachment, {
    mediaType: 'File',
    url,
    mime: 'application/octet-stream',
    filename: 'x.bin',
  })
})

t.test('location, contacts, replies and reactions become readable text', async (t) => {
  t.equal(
    textOf({ type: 'location', location: { latitude: 51.5, longitude: -0.12, name: 'Office', address: '1 Main St' } }),
    'Location: Office, 1 Main St (51.5, -0.12) https://maps.google.com/?q=51.5,-0.12',
  )
  t.equal(
    textOf({ type: 'location', location: { latitude: 1, longitude: 2 } }),
    'Location: (1, 2) https://maps.google.com/?q=1,2',
  )
  t.equal(
    textOf({
      type: 'contacts',
      contacts: [
        {
          name: { formatted_name: 'Ana Ruiz' },
          phones: [{ phone: '+34 600 000 000' }],
          emails: [{ email: 'ana@example.test' }],
        },
        { name: { first_name: 'Bo' } },
      ],
    }),
    'Contact: Ana Ruiz, +34 600 000 000, ana@example.test\nContact: Bo',
  )
  t.equal(
    textOf({ type: 'interactive', interactive: { type: 'button_reply', button_reply: { id: 'yes', title: 'Yes' } } }),
    'Yes',
  )
  t.equal(
    textOf({ type: 'interactive', interactive: { type: 'list_reply', list_reply: { id: 'r2', title: 'Tuesday' } } }),
    'Tuesday',
  )
  t.equal(
    textOf({ type: 'interactive', interactive: { type: 'nfm_reply' } }),
    '[unsupported message type interactive nfm_reply]',
  )
  t.equal(textOf({ type: 'button', button: { payload: 'STOP', text: 'Stop promotions' } }), 'Stop promotions')
  t.equal(textOf({ type: 'reaction', reaction: { message_id: 'wamid.OUT1', emoji: '👍' } }), '[reaction 👍]')
  t.same(transformInbound(item({ type: 'reaction', reaction: { message_id: 'wamid.OUT1' } }), ctx), {
    kind: 'drop',
    reason: 'reaction removed',
  })
})

t.test('unsupported types are announced to the agent', async (t) => {
  t.equal(
    textOf({
      type: 'unsupported',
      unsupported: { type: 'poll' },
      errors: [{ code: 131051, title: 'Message type unknown' }],
    }),
    '[unsupported message type poll]',
  )
  t.equal(
    textOf({ type: 'unsupported', errors: [{ code: 131051, title: 'Message type unknown' }] }),
    '[unsupported message type Message type unknown]',
  )
  t.equal(textOf({ type: 'system' }), '[unsupported message type system]')
})

t.test('inboundMediaRef', async (t) => {
  t.same(
    inboundMediaRef(
      item({ type: 'document', document: { id: 'm1', mime_type: 'application/pdf', filename: 'inv.pdf' } }),
    ),
    {
      mediaId: 'm1',
      mime: 'application/pdf',
      filename: 'inv.pdf',
      kind: 'document',
    },
  )
  t.same(inboundMediaRef(item({ type: 'audio', audio: { id: 'm2', mime_type: 'audio/ogg; codecs=opus' } })), {
    mediaId: 'm2',
    mime: 'audio/ogg; codecs=opus',
    kind: 'audio',
  })
  t.equal(inboundMediaRef(item({ text: { body: 'x' } })), undefined)
  t.equal(inboundMediaRef(item({ type: 'image' })), undefined, 'type without its object')
})
