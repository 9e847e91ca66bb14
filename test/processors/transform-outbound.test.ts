import t from 'tap'
import { needsMedia, transformOutbound } from '../../src/processors/transform-outbound.js'
import type { GenesysContent, GenesysOutbound } from '../../src/processors/types/genesys.js'

const to = '447700900123'
const link = 'https://media.example.test/presigned/f1.bin?sig=abc'
const head = { messaging_product: 'whatsapp', recipient_type: 'individual', to }

const msg = (over: Partial<GenesysOutbound> = {}): GenesysOutbound => ({
  id: 'gm-0001',
  channel: { id: 'int-0001', to: { id: to, idType: 'Phone' } },
  type: 'Text',
  text: 'hello',
  ...over,
})
const att = (mediaType: 'Image' | 'Video' | 'Audio' | 'File' | 'Link', extra = {}): GenesysContent => ({
  contentType: 'Attachment',
  attachment: { mediaType, url: 'https://api-downloads.mypurecloud.ie/api/v2/downloads/x1', ...extra },
})
const value = (r: ReturnType<typeof transformOutbound>) => (r.kind === 'ok' ? r.value : r)
const typeOf = (r: ReturnType<typeof transformOutbound>) => (r.kind === 'ok' ? r.value.type : r.kind)

t.test('text, with preview only when there is a URL', async (t) => {
  t.same(value(transformOutbound(msg(), { to })), {
    ...head,
    type: 'text',
    text: { preview_url: false, body: 'hello' },
  })
  const r = value(transformOutbound(msg({ text: 'see https://example.test/a' }), { to }))
  t.same(r, { ...head, type: 'text', text: { preview_url: true, body: 'see https://example.test/a' } })
})

t.test('text over 4096 characters fails; exactly 4096 (emoji counted once) passes', async (t) => {
  const r = transformOutbound(msg({ text: 'x'.repeat(4097) }), { to })
  t.equal(r.kind, 'fail')
  if (r.kind === 'fail') {
    t.equal(r.error.code, 'GWB_UNSUPPORTED_CONTENT')
    t.equal(r.error.details.receiptReason, 'InvalidMessageStructure')
  }
  t.equal(transformOutbound(msg({ text: '😀'.repeat(4096) }), { to }).kind, 'ok')
  t.equal(transformOutbound(msg({ text: '   ' }), { to }).kind, 'fail', 'blank message')
  t.equal(transformOutbound(msg({ text: undefined }), { to }).kind, 'fail')
})

t.test('typing events and receipts are dropped', async (t) => {
  t.same(transformOutbound(msg({ type: 'Event', events: [{ eventType: 'Typing' }] }), { to }), {
    kind: 'drop',
    reason: 'typing event',
  })
  t.equal(transformOutbound(msg({ type: 'Receipt' }), { to }).kind, 'drop')
})

t.test('attachments use the re-hosted link; caption from attachment text, else message text', async (t) => {
  t.same(
    value(
      transformOutbound(msg({ content: [att('Image', { mime: 'image/jpeg', text: 'cap' })] }), { to, mediaLink: link }),
    ),
    {
      ...head,
      type: 'image',
      image: { link, caption: 'cap' },
    },
  )
  t.same(value(transformOutbound(msg({ content: [att('Video')] }), { to, mediaLink: link })), {
    ...head,
    type: 'video',
    video: { link, caption: 'hello' },
  })
  t.same(
    value(
      transformOutbound(msg({ text: undefined, content: [att('File', { filename: 'invoice.pdf' })] }), {
        to,
        mediaLink: link,
      }),
    ),
    { ...head, type: 'document', document: { link, filename: 'invoice.pdf' } },
  )
  const gif = value(
    transformOutbound(msg({ content: [att('Image', { mime: 'image/gif', filename: 'a.gif' })] }), {
      to,
      mediaLink: link,
    }),
  )
  t.same(
    gif,
    { ...head, type: 'document', document: { link, filename: 'a.gif', caption: 'hello' } },
    'gif goes as a document',
  )
})

t.test('audio has no caption: bare audio stays audio, audio with text goes as a document', async (t) => {
  t.same(value(transformOutbound(msg({ text: undefined, content: [att('Audio')] }), { to, mediaLink: link })), {
    ...head,
    type: 'audio',
    audio: { link },
  })
  t.same(value(transformOutbound(msg({ content: [att('Audio', { filename: 'v.ogg' })] }), { to, mediaLink: link })), {
    ...head,
    type: 'document',
    document: { link, filename: 'v.ogg', caption: 'hello' },
  })
})

t.test('media without a re-hosted link fails GWB_MEDIA; links become text', async (t) => {
  const r = transformOutbound(msg({ content: [att('Image')] }), { to })
  t.equal(r.kind, 'fail')
  if (r.kind === 'fail') t.equal(r.error.code, 'GWB_MEDIA')
  t.same(value(transformOutbound(msg({ content: [att('Link', { url: 'https://example.test/x' })] }), { to })), {
    ...head,
    type: 'text',
    text: { preview_url: true, body: 'hello\nhttps://example.test/x' },
  })
})

t.test('templates: name after @, language, header and body parameters in order', async (t) => {
  const content: GenesysContent[] = [
    {
      contentType: 'Notification',
      template: {
        id: 'ns-77aa@order_update',
        language: 'en-US',
        header: { type: 'Text', text: 'Order {{1}}', parameters: [{ name: '1', text: 'A-17' }] },
        body: {
          text: 'Hi {{1}}, {{2}}',
          parameters: [
            { name: '1', text: 'Sam' },
            { name: '2', text: 'shipped' },
          ],
        },
      },
    },
  ]
  t.same(value(transformOutbound(msg({ type: 'Structured', content }), { to })), {
    ...head,
    type: 'template',
    template: {
      name: 'order_update',
      language: { code: 'en_US' },
      components: [
        { type: 'header', parameters: [{ type: 'text', text: 'A-17' }] },
        {
          type: 'body',
          parameters: [
            { type: 'text', text: 'Sam' },
            { type: 'text', text: 'shipped' },
          ],
        },
      ],
    },
  })
  const media: GenesysContent = {
    contentType: 'Notification',
    template: {
      id: 'welcome',
      language: 'de',
      header: { type: 'Media', media: { url: 'https://g.test/h', mime: 'image/png' } },
    },
  }
  t.same(value(transformOutbound(msg({ content: [media] }), { to, mediaLink: link })), {
    ...head,
    type: 'template',
    template: {
      name: 'welcome',
      language: { code: 'de' },
      components: [{ type: 'header', parameters: [{ type: 'image', image: { link } }] }],
    },
  })
  t.equal(transformOutbound(msg({ content: [media] }), { to }).kind, 'fail', 'media header without link')
  const plain: GenesysContent = { contentType: 'Notification', template: { id: 'ns@hello_world', language: 'en_US' } }
  t.same(value(transformOutbound(msg({ content: [plain] }), { to })), {
    ...head,
    type: 'template',
    template: { name: 'hello_world', language: { code: 'en_US' } },
  })
  const nolang: GenesysContent = { contentType: 'Notification', template: { id: 'ns@x' } }
  t.equal(transformOutbound(msg({ content: [nolang] }), { to }).kind, 'fail')
})

t.test('quick replies: buttons when they fit, text list otherwise', async (t) => {
  const qr = (text: string, payload?: string): GenesysContent => ({
    contentType: 'QuickReply',
    quickReply: { text, payload },
  })
  t.same(
    value(
      transformOutbound(msg({ text: 'Pick one', content: [qr('Yes', 'yes'), qr('A very long answer title here')] }), {
        to,
      }),
    ),
    {
      ...head,
      type: 'interactive',
      interactive: {
        type: 'button',
        body: { text: 'Pick one' },
        action: {
          buttons: [
            { type: 'reply', reply: { id: 'yes', title: 'Yes' } },
            { type: 'reply', reply: { id: 'A very long answer title here', title: 'A very long answer t' } },
          ],
        },
      },
    },
  )
  const four = [qr('a'), qr('b'), qr('c'), qr('d')]
  t.same(value(transformOutbound(msg({ text: 'Pick', content: four }), { to })), {
    ...head,
    type: 'text',
    text: { preview_url: false, body: 'Pick\n\n1. a\n2. b\n3. c\n4. d' },
  })
  t.equal(typeOf(transformOutbound(msg({ text: undefined, content: [qr('a')] }), { to })), 'text', 'no body text')
  const dup = [qr('Same title of twenty chars, one'), qr('Same title of twenty chars, two')]
  t.equal(
    typeOf(transformOutbound(msg({ text: 'x', content: dup }), { to })),
    'text',
    'titles collide after truncation',
  )
})

t.test('unknown content types fail visibly', async (t) => {
  const r = transformOutbound(msg({ content: [{ contentType: 'Unsupported', originalType: 'Carousel' }] }), { to })
  t.equal(r.kind, 'fail')
  if (r.kind === 'fail') t.match(r.error.message, /Carousel/)
})

t.test('needsMedia', async (t) => {
  t.same(needsMedia(msg({ content: [att('File', { mime: 'application/pdf', filename: 'i.pdf' })] })), {
    url: 'https://api-downloads.mypurecloud.ie/api/v2/downloads/x1',
    mime: 'application/pdf',
    filename: 'i.pdf',
    mediaType: 'File',
  })
  t.equal(needsMedia(msg()), undefined)
  t.equal(needsMedia(msg({ content: [att('Link')] })), undefined)
  t.equal(needsMedia(msg({ type: 'Event', content: [att('Image')] })), undefined)
  const header: GenesysContent = {
    contentType: 'Notification',
    template: {
      id: 'n@t',
      language: 'en',
      header: { type: 'Media', media: { url: 'https://g.test/v', mime: 'video/mp4' } },
    },
  }
  t.same(needsMedia(msg({ content: [header] })), { url: 'https://g.test/v', mime: 'video/mp4', mediaType: 'Video' })
})
