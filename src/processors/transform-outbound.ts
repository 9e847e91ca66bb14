import { BridgeError } from '../errors.js'
import { drop, fail, ok, type StageResult } from './result.js'
import type {
  GenesysAttachment,
  GenesysMediaType,
  GenesysOutbound,
  GenesysQuickReply,
  GenesysTemplate,
} from './types/genesys.js'
import type { MetaSendBody, MetaTemplateComponent, MetaTemplateParameter } from './types/meta.js'

export interface OutboundContext {
  /** Recipient wa_id (from the conversation mapping). */
  to: string
  /** Presigned GET URL of our re-hosted copy of the attachment or template header media. */
  mediaLink?: string
}

export interface MediaNeed {
  url: string
  mime?: string
  filename?: string
  mediaType: Exclude<GenesysMediaType, 'Link'>
}

// Meta limits (facts §3.1).
const maxTextChars = 4096
const maxInteractiveBodyChars = 1024
const maxButtons = 3
const maxButtonTitle = 20
const maxButtonId = 256
/** Meta image messages take jpeg and png only; anything else goes as a document. */
const metaImageMimes = new Set(['image/jpeg', 'image/png'])

const base = (to: string) => ({ messaging_product: 'whatsapp', recipient_type: 'individual', to }) as const
const unsupported = (message: string, details: Record<string, unknown> = {}) =>
  fail<MetaSendBody>(new BridgeError('GWB_UNSUPPORTED_CONTENT', message, { details }))

/** Genesys outbound message → Meta /messages body. One Genesys message is one Meta message. */
export function transformOutbound(msg: GenesysOutbound, ctx: OutboundContext): StageResult<MetaSendBody> {
  if (msg.type === 'Event') return drop('typing event')
  if (msg.type === 'Receipt') return drop('receipt')
  const content = msg.content ?? []
  const other = content.find((c) => c.contentType === 'Unsupported')
  if (other) return unsupported(`Genesys content type ${other.originalType} cannot be sent to WhatsApp`)
  for (const c of content) {
    if (c.contentType === 'Notification') return template(c.template, ctx)
  }
  for (const c of content) {
    if (c.contentType === 'Attachment') return attachment(c.attachment, msg.text, ctx)
  }
  const replies = content.flatMap((c) => (c.contentType === 'QuickReply' ? [c.quickReply] : []))
  if (replies.length > 0) return quickReplies(replies, msg.text, ctx.to)
  return text(msg.text, ctx.to)
}

/**
 * Text over 4096 characters fails instead of being split: one Genesys id maps to one wamid, so
 * tracking, receipts and ordering stay one-to-one, and a half-sent split has no honest receipt.
 */
function text(body: string | undefined, to: string): StageResult<MetaSendBody> {
  if (body === undefined || body.trim() === '') return unsupported('message has neither text nor content')
  const chars = [...body].length
  if (chars > maxTextChars) {
    return unsupported(`text is ${chars} characters, WhatsApp allows ${maxTextChars}`, {
      receiptReason: 'InvalidMessageStructure',
    })
  }
  return ok({ ...base(to), type: 'text', text: { preview_url: /https?:\/\/\S/i.test(body), body } })
}

function attachment(
  a: GenesysAttachment,
  msgText: string | undefined,
  ctx: OutboundContext,
): StageResult<MetaSendBody> {
  const caption = nonEmpty(a.text) ?? nonEmpty(msgText)
  if (a.mediaType === 'Link') {
    if (a.url === undefined) return unsupported('link attachment has no url')
    return text(caption === undefined ? a.url : `${caption}\n${a.url}`, ctx.to)
  }
  const link = ctx.mediaLink
  if (link === undefined) {
    return fail(new BridgeError('GWB_MEDIA', `no re-hosted media link for the ${a.mediaType} attachment`))
  }
  const cap = caption === undefined ? {} : { caption }
  const doc = () =>
    ok<MetaSendBody>({
      ...base(ctx.to),
      type: 'document',
      document: { link, ...(a.filename ? { filename: a.filename } : {}), ...cap },
    })
  switch (a.mediaType) {
    case 'Image':
      // A gif (allowed by Genesys' default profile) would fail at Meta as an image; as a document it arrives.
      return a.mime !== undefined && !metaImageMimes.has(a.mime.toLowerCase())
        ? doc()
        : ok({ ...base(ctx.to), type: 'image', image: { link, ...cap } })
    case 'Video':
      return ok({ ...base(ctx.to), type: 'video', video: { link, ...cap } })
    case 'Audio':
      // WhatsApp audio carries no caption. Rather than drop the agent's words, audio with text goes
      // as a document (playable file plus caption); bare audio stays a voice/audio message.
      return caption === undefined ? ok({ ...base(ctx.to), type: 'audio', audio: { link } }) : doc()
    case 'File':
      return doc()
  }
}

function template(tp: GenesysTemplate, ctx: OutboundContext): StageResult<MetaSendBody> {
  // WhatsApp template ids in Genesys are "namespace@name"; Meta wants only the name.
  const name = tp.id.slice(tp.id.lastIndexOf('@') + 1)
  if (name === '') return unsupported(`template id ${tp.id} has no name`)
  if (tp.language === undefined || tp.language === '') return unsupported(`template ${name} has no language`)
  const components: MetaTemplateComponent[] = []
  const header = tp.header
  if (header?.type === 'Media') {
    if (ctx.mediaLink === undefined)
      return fail(new BridgeError('GWB_MEDIA', `no re-hosted link for template ${name} header`))
    components.push({ type: 'header', parameters: [headerMedia(ctx.mediaLink, header.media)] })
  } else if (header?.parameters?.length) {
    components.push({ type: 'header', parameters: header.parameters.map((p) => ({ type: 'text', text: p.text })) })
  }
  const params = tp.body?.parameters ?? []
  if (params.length > 0)
    components.push({ type: 'body', parameters: params.map((p) => ({ type: 'text', text: p.text })) })
  return ok({
    ...base(ctx.to),
    type: 'template',
    // Meta language codes use an underscore (en_US); Genesys may give a BCP-47 tag (en-US).
    template: { name, language: { code: tp.language.replace('-', '_') }, ...(components.length ? { components } : {}) },
  })
}

function headerMedia(
  link: string,
  media: { mime?: string; mediaType?: GenesysMediaType; filename?: string } | undefined,
): MetaTemplateParameter {
  const kind = mediaKind(media?.mediaType, media?.mime)
  if (kind === 'Image') return { type: 'image', image: { link } }
  if (kind === 'Video') return { type: 'video', video: { link } }
  return { type: 'document', document: { link, ...(media?.filename ? { filename: media.filename } : {}) } }
}

function mediaKind(mediaType: GenesysMediaType | undefined, mime: string | undefined): GenesysMediaType {
  if (mediaType !== undefined && mediaType !== 'Link') return mediaType
  if (mime?.startsWith('image/')) return 'Image'
  if (mime?.startsWith('video/')) return 'Video'
  return 'File'
}

/**
 * Bot quick replies become reply buttons when WhatsApp can show them (≤3, a body text, distinct
 * titles after truncation); otherwise a text listing the options, which the customer answers in words.
 */
function quickReplies(replies: GenesysQuickReply[], body: string | undefined, to: string): StageResult<MetaSendBody> {
  const prompt = nonEmpty(body)
  const buttons = replies.map((r) => ({
    type: 'reply' as const,
    reply: { id: cut(nonEmpty(r.payload) ?? r.text, maxButtonId), title: cut(r.text, maxButtonTitle) },
  }))
  const distinct = (k: (b: (typeof buttons)[number]) => string) => new Set(buttons.map(k)).size === buttons.length
  if (
    prompt !== undefined &&
    [...prompt].length <= maxInteractiveBodyChars &&
    buttons.length <= maxButtons &&
    distinct((b) => b.reply.id) &&
    distinct((b) => b.reply.title)
  ) {
    return ok({
      ...base(to),
      type: 'interactive',
      interactive: { type: 'button', body: { text: prompt }, action: { buttons } },
    })
  }
  const options = replies.map((r, i) => `${i + 1}. ${r.text}`).join('\n')
  return text(prompt === undefined ? options : `${prompt}\n\n${options}`, to)
}

/** The media the bridge must download and re-host before the message can be sent. */
export function needsMedia(msg: GenesysOutbound): MediaNeed | undefined {
  if (msg.type === 'Event' || msg.type === 'Receipt') return undefined
  for (const c of msg.content ?? []) {
    if (c.contentType === 'Notification') {
      const media = c.template.header?.type === 'Media' ? c.template.header.media : undefined
      if (media === undefined) return undefined
      const mediaType = mediaKind(media.mediaType, media.mime) as MediaNeed['mediaType']
      return strip({ url: media.url, mime: media.mime, filename: media.filename, mediaType })
    }
  }
  for (const c of msg.content ?? []) {
    if (c.contentType !== 'Attachment') continue
    const a = c.attachment
    if (a.mediaType === 'Link' || a.url === undefined) return undefined
    return strip({ url: a.url, mime: a.mime, filename: a.filename, mediaType: a.mediaType })
  }
  return undefined
}

function strip(m: MediaNeed): MediaNeed {
  if (m.mime === undefined) delete m.mime
  if (m.filename === undefined) delete m.filename
  return m
}

function nonEmpty(s: string | undefined): string | undefined {
  return s === undefined || s.trim() === '' ? undefined : s
}

/** Truncates by code points so an emoji is never cut in half. */
function cut(s: string, max: number): string {
  const cps = [...s]
  return cps.length <= max ? s : cps.slice(0, max).join('')
}
