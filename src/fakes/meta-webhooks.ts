import { randomBytes } from 'node:crypto'
import { request } from 'undici'
import { SIGNATURE_HEADER, signMeta } from './sign.js'

/**
 * Webhooks as Meta sends them (facts §4): one batched payload (entry → changes → value), Unix
 * seconds as strings, and a body serialised the way Meta does it (non-ASCII and '/' escaped), so
 * a receiver that re-serialises JSON before checking the signature fails here as it would live.
 */

type Json = Record<string, unknown>

const unixSeconds = (ms: number = Date.now()): string => String(Math.floor(ms / 1000))
export const newWamid = (): string => `wamid.${randomBytes(18).toString('base64url')}`

interface Base {
  from: string
  id?: string
  /** Milliseconds since the epoch; serialised as Unix seconds in a string. */
  timeMs?: number
  context?: { from: string; id: string }
}

function base(b: Base, type: string): Json {
  const m: Json = { from: b.from, id: b.id ?? newWamid(), timestamp: unixSeconds(b.timeMs), type }
  if (b.context !== undefined) m.context = b.context
  return m
}

export function inboundText(b: Base & { body: string }): Json {
  return { ...base(b, 'text'), text: { body: b.body } }
}

export type InboundMediaType = 'image' | 'video' | 'audio' | 'document' | 'sticker'

export function inboundMedia(
  b: Base & {
    type: InboundMediaType
    mediaId: string
    mimeType: string
    sha256?: string
    caption?: string
    filename?: string
  },
): Json {
  const media: Json = { id: b.mediaId, mime_type: b.mimeType, sha256: b.sha256 ?? randomBytes(32).toString('base64') }
  if (b.caption !== undefined) media.caption = b.caption
  if (b.filename !== undefined) media.filename = b.filename
  return { ...base(b, b.type), [b.type]: media }
}

export function inboundLocation(
  b: Base & { latitude: number; longitude: number; name?: string; address?: string },
): Json {
  const loc: Json = { latitude: b.latitude, longitude: b.longitude }
  if (b.name !== undefined) loc.name = b.name
  if (b.address !== undefined) loc.address = b.address
  return { ...base(b, 'location'), location: loc }
}

export function inboundInteractiveReply(
  b: Base & { kind: 'button_reply' | 'list_reply'; replyId: string; title: string; description?: string },
): Json {
  const reply: Json = { id: b.replyId, title: b.title }
  if (b.description !== undefined) reply.description = b.description
  return { ...base(b, 'interactive'), interactive: { type: b.kind, [b.kind]: reply } }
}

/** A tap on a template quick-reply button. */
export function inboundButton(b: Base & { payload: string; text: string }): Json {
  return { ...base(b, 'button'), button: { payload: b.payload, text: b.text } }
}

export interface StatusError {
  code: number
  title?: string
  message?: string
  details?: string
}

export function statusUpdate(s: {
  wamid: string
  status: 'sent' | 'delivered' | 'read' | 'failed'
  recipientId: string
  timeMs?: number
  errors?: StatusError[]
}): Json {
  const out: Json = { id: s.wamid, status: s.status, timestamp: unixSeconds(s.timeMs), recipient_id: s.recipientId }
  if (s.errors !== undefined) {
    out.errors = s.errors.map((e) => ({
      code: e.code,
      title: e.title ?? `Error ${e.code}`,
      message: e.message ?? e.title ?? `Error ${e.code}`,
      error_data: { details: e.details ?? e.title ?? `Error ${e.code}` },
    }))
  }
  return out
}

export interface WebhookSpec {
  phoneNumberId: string
  displayPhoneNumber?: string
  wabaId?: string
  messages?: Json[]
  statuses?: Json[]
  /** Defaults to one contact per distinct sender in `messages`. */
  contacts?: { waId: string; name?: string }[]
}

export function buildWebhook(spec: WebhookSpec): Json {
  const value: Json = {
    messaging_product: 'whatsapp',
    metadata: {
      display_phone_number: spec.displayPhoneNumber ?? '15550000000',
      phone_number_id: spec.phoneNumberId,
    },
  }
  const senders: { waId: string; name?: string }[] =
    spec.contacts ?? [...new Set((spec.messages ?? []).map((m) => String(m.from)))].map((waId) => ({ waId }))
  if (spec.messages !== undefined && spec.messages.length > 0) {
    value.contacts = senders.map((c) => ({ profile: { name: c.name ?? `User ${c.waId.slice(-4)}` }, wa_id: c.waId }))
    value.messages = spec.messages
  }
  if (spec.statuses !== undefined && spec.statuses.length > 0) value.statuses = spec.statuses
  return {
    object: 'whatsapp_business_account',
    entry: [{ id: spec.wabaId ?? `waba-${spec.phoneNumberId}`, changes: [{ field: 'messages', value }] }],
  }
}

/** JSON the way Meta serialises it: `\/` and `\uXXXX` for everything outside printable ASCII. */
export function metaJson(payload: unknown): string {
  return JSON.stringify(payload).replace(/[\u007f-\uffff/]/g, (c) =>
    c === '/' ? '\\/' : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  )
}

export interface WebhookResult {
  status: number
  body: string
  headers: Record<string, string | string[] | undefined>
}

/** POSTs a signed webhook. A string or Buffer is sent as is, so tests can sign odd bytes. */
export async function sendMetaWebhook(
  targetUrl: string,
  payload: unknown,
  appSecret: string,
  extraHeaders: Record<string, string> = {},
): Promise<WebhookResult> {
  const raw = typeof payload === 'string' || Buffer.isBuffer(payload) ? payload : metaJson(payload)
  const res = await request(targetUrl, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'user-agent': 'facebookexternalua',
      [SIGNATURE_HEADER]: signMeta(raw, appSecret),
      ...extraHeaders,
    },
    body: raw,
  })
  return { status: res.statusCode, body: await res.body.text(), headers: res.headers }
}
