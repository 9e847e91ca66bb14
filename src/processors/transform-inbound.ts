import { BridgeError } from '../errors.js'
import { drop, fail, ok, type StageResult } from './result.js'
import type { MetaInboundItem } from './split-meta-webhook.js'
import type { GenesysInboundAttachment, GenesysInboundMessage } from './types/genesys.js'
import type { MetaInboundMessage, MetaMediaRef, MetaSharedContact } from './types/meta.js'

export interface InboundContext {
  /** Genesys Open Messaging integration id of the tenant. */
  integrationId: string
  /** Presigned URL of our re-hosted copy; Genesys fetches it itself (facts §2.3). */
  mediaUrl?: string
}

export type MetaMediaKind = 'image' | 'video' | 'audio' | 'document' | 'sticker'

export interface InboundMediaRef {
  mediaId: string
  mime: string
  filename?: string
  kind: MetaMediaKind
}

const mediaKinds: Record<MetaMediaKind, GenesysInboundAttachment['mediaType']> = {
  image: 'Image',
  video: 'Video',
  audio: 'Audio',
  document: 'File',
  // WhatsApp stickers are webp images; Genesys has no sticker type.
  sticker: 'Image',
}
/** Genesys requires a mime on attachments; Meta omits it only in odd cases. */
const fallbackMime = 'application/octet-stream'

/** The Meta media the bridge must download (with the Bearer token) and re-host first. */
export function inboundMediaRef(item: MetaInboundItem): InboundMediaRef | undefined {
  const kind = mediaKindOf(item.message)
  if (kind === undefined) return undefined
  const m = item.message[kind] as MetaMediaRef
  return { mediaId: m.id, mime: m.mime_type ?? fallbackMime, ...(m.filename ? { filename: m.filename } : {}), kind }
}

function mediaKindOf(m: MetaInboundMessage): MetaMediaKind | undefined {
  const t = m.type
  return t in mediaKinds && m[t as MetaMediaKind] !== undefined ? (t as MetaMediaKind) : undefined
}

/**
 * Meta inbound message → Genesys Open Messaging inbound message (facts §2.3). Everything that is not
 * text or media becomes readable text, so the agent always sees what the customer did.
 */
export function transformInbound(item: MetaInboundItem, ctx: InboundContext): StageResult<GenesysInboundMessage> {
  const channel: GenesysInboundMessage['channel'] = {
    platform: 'Open',
    type: 'Private',
    messageId: item.wamid,
    to: { id: ctx.integrationId },
    from: { id: item.waId, idType: 'Phone', ...(item.profileName ? { nickname: item.profileName } : {}) },
    time: new Date(item.timestampMs).toISOString(),
  }
  const head = { channel, type: 'Text', direction: 'Inbound' } as const
  const kind = mediaKindOf(item.message)
  if (kind !== undefined) {
    if (ctx.mediaUrl === undefined) {
      return fail(new BridgeError('GWB_MEDIA', `no re-hosted URL for inbound ${kind} ${item.wamid}`))
    }
    const media = item.message[kind] as MetaMediaRef
    const attachment: GenesysInboundAttachment = {
      mediaType: mediaKinds[kind],
      url: ctx.mediaUrl,
      mime: media.mime_type ?? fallbackMime,
      ...(media.filename ? { filename: media.filename } : {}),
      ...(media.caption ? { text: media.caption } : {}),
    }
    return ok({
      ...head,
      ...(media.caption ? { text: media.caption } : {}),
      content: [{ contentType: 'Attachment', attachment }],
    })
  }
  const text = textOf(item.message)
  if (typeof text !== 'string') return text
  return ok({ ...head, text })
}

function textOf(m: MetaInboundMessage): string | StageResult<never> {
  switch (m.type) {
    case 'text':
      return m.text?.body ?? ''
    case 'location':
      return locationText(m.location)
    case 'contacts':
      return (m.contacts ?? []).map(contactText).join('\n') || '[shared contact]'
    // Button and list answers go as plain text on /inbound/open/message, not the structured-response
    // endpoint: our outbound buttons carry the Genesys payload as id but Architect bot flows match on
    // the text, and the structured endpoint's body for a reply is UNCONFIRMED.
    case 'interactive':
      return (
        m.interactive?.button_reply?.title ??
        m.interactive?.list_reply?.title ??
        unsupportedText(`interactive ${m.interactive?.type}`)
      )
    case 'button':
      return m.button?.text || m.button?.payload || unsupportedText('button')
    // Reactions are forwarded as text: a 👍 is often the customer's whole answer. An empty emoji
    // means the customer removed a reaction, which is not worth an agent's attention.
    case 'reaction':
      return m.reaction?.emoji ? `[reaction ${m.reaction.emoji}]` : drop('reaction removed')
    case 'unsupported':
      return unsupportedText(m.unsupported?.type ?? m.errors?.[0]?.title ?? 'unknown')
    default:
      return unsupportedText(m.type)
  }
}

/** The agent must know the customer sent something, even what the bridge cannot carry. */
function unsupportedText(what: string): string {
  return `[unsupported message type ${what}]`
}

function locationText(l: MetaInboundMessage['location']): string {
  if (l === undefined) return unsupportedText('location')
  const place = [l.name, l.address].filter((s) => s !== undefined && s !== '').join(', ')
  const at = `${l.latitude},${l.longitude}`
  return `Location: ${place ? place + ' ' : ''}(${l.latitude}, ${l.longitude}) https://maps.google.com/?q=${at}`
}

function contactText(c: MetaSharedContact): string {
  const name = c.name?.formatted_name ?? [c.name?.first_name, c.name?.last_name].filter(Boolean).join(' ')
  const phones = (c.phones ?? []).map((p) => p.phone ?? p.wa_id).filter(Boolean)
  const emails = (c.emails ?? []).map((e) => e.email).filter(Boolean)
  const parts = [name, ...phones, ...emails, c.org?.company].filter((s) => s !== undefined && s !== '')
  return `Contact: ${parts.join(', ') || 'unnamed'}`
}
