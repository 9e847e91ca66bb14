import { randomBytes } from 'node:crypto'
import { request } from 'undici'
import type { WebhookResult } from './meta-webhooks.js'
import { SIGNATURE_HEADER, signGenesys } from './sign.js'

/** Outbound webhooks as Genesys sends them (facts §1.2), signed with Base64 HMAC (§1.1). */

export interface OutboundAttachment {
  url: string
  mime: string
  mediaType?: 'Image' | 'Video' | 'Audio' | 'File' | 'Link'
  filename?: string
  /** Caption. */
  text?: string
  id?: string
  sha256?: string
  contentSizeBytes?: number
}

export interface OutboundTemplate {
  /** "namespace@name" for WhatsApp templates. */
  id: string
  language?: string
  body?: { text: string; parameters?: { name: string; text: string }[] }
  header?: Record<string, unknown>
  footer?: Record<string, unknown>
}

export interface OutboundSpec {
  integrationId: string
  conversationId?: string
  toId: string
  toIdType?: 'Phone' | 'Email' | 'Opaque'
  text?: string
  attachment?: OutboundAttachment
  template?: OutboundTemplate
  /** Typing indicator event; a number is its duration in ms. */
  typing?: boolean | number
  id?: string
  nickname?: string
  originatingEntity?: 'Human' | 'Bot'
  timeMs?: number
}

export const genesysMessageId = (): string => randomBytes(16).toString('hex')

function mediaTypeOf(mime: string): NonNullable<OutboundAttachment['mediaType']> {
  if (mime.startsWith('image/')) return 'Image'
  if (mime.startsWith('video/')) return 'Video'
  if (mime.startsWith('audio/')) return 'Audio'
  return 'File'
}

export function buildOutbound(spec: OutboundSpec): Record<string, unknown> {
  const id = spec.id ?? genesysMessageId()
  const body: Record<string, unknown> = {
    id,
    channel: {
      id: spec.integrationId,
      platform: 'Open',
      type: 'Private',
      messageId: id,
      to: { id: spec.toId, idType: spec.toIdType ?? 'Phone' },
      from: { id: spec.integrationId, idType: 'Opaque', nickname: spec.nickname ?? 'WhatsApp Bridge' },
      time: new Date(spec.timeMs ?? Date.now()).toISOString(),
    },
    type: 'Text',
    direction: 'Outbound',
    originatingEntity: spec.originatingEntity ?? 'Human',
  }
  if (spec.conversationId !== undefined) body.conversationId = spec.conversationId
  if (spec.text !== undefined) body.text = spec.text
  const content: Record<string, unknown>[] = []
  if (spec.attachment !== undefined) {
    const a = spec.attachment
    content.push({
      contentType: 'Attachment',
      attachment: {
        id: a.id ?? genesysMessageId(),
        mediaType: a.mediaType ?? mediaTypeOf(a.mime),
        url: a.url,
        mime: a.mime,
        ...(a.filename !== undefined ? { filename: a.filename } : {}),
        ...(a.text !== undefined ? { text: a.text } : {}),
        ...(a.sha256 !== undefined ? { sha256: a.sha256 } : {}),
        ...(a.contentSizeBytes !== undefined ? { contentSizeBytes: a.contentSizeBytes } : {}),
      },
    })
  }
  if (spec.template !== undefined) {
    body.type = 'Structured'
    content.push({ contentType: 'Notification', template: { language: 'en_US', ...spec.template } })
  }
  if (content.length > 0) body.content = content
  if (spec.typing !== undefined && spec.typing !== false) {
    body.type = 'Event'
    body.events = [
      { eventType: 'Typing', typing: { type: 'On', duration: typeof spec.typing === 'number' ? spec.typing : 5000 } },
    ]
  }
  return body
}

/** POSTs a signed outbound webhook; a string or Buffer body is sent byte for byte. */
export async function sendOutboundWebhook(
  targetUrl: string,
  body: unknown,
  secret: string,
  extraHeaders: Record<string, string> = {},
): Promise<WebhookResult> {
  const raw = typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body)
  const res = await request(targetUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', [SIGNATURE_HEADER]: signGenesys(raw, secret), ...extraHeaders },
    body: raw,
  })
  return { status: res.statusCode, body: await res.body.text(), headers: res.headers }
}
