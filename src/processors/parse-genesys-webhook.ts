import {
  compact,
  obj,
  oneOf,
  optArr,
  optBool,
  optNum,
  optObj,
  optStr,
  parseJsonObject,
  runParser,
  ShapeError,
  str,
  type Json,
  type Parsed,
} from './json-shape.js'
import type {
  GenesysAttachment,
  GenesysContent,
  GenesysEvent,
  GenesysOutbound,
  GenesysParty,
  GenesysTemplate,
  GenesysTemplateHeader,
  GenesysTemplateParameter,
} from './types/genesys.js'

const messageTypes = ['Text', 'Structured', 'Receipt', 'Event'] as const
const mediaTypes = ['Image', 'Video', 'Audio', 'File', 'Link'] as const
/** Genesys webhooks are a few KB; ingest enforces its own 413 limit before this. */
const defaultMaxBytes = 1024 * 1024

/**
 * Parses and shape-checks a Genesys outbound webhook body (facts §1.2). Only the fields the bridge
 * uses are checked and kept; the raw bytes travel separately in the envelope for audit and replay.
 */
export function parseGenesysWebhook(raw: Buffer, maxBytes = defaultMaxBytes): Parsed<GenesysOutbound> {
  return runParser(() => outbound(parseJsonObject(raw, maxBytes)))
}

function outbound(b: Json): GenesysOutbound {
  const ch = obj(b.channel, 'channel')
  const content = optArr(b.content, 'content')
  const events = optArr(b.events, 'events')
  const reasons = optArr(b.reasons, 'reasons')
  const metadata = optObj(b.metadata, 'metadata')
  const meta = metadata && stringMap(metadata, 'metadata')
  return compact<GenesysOutbound>({
    id: str(b.id, 'id'),
    channel: compact({
      id: str(ch.id, 'channel.id'),
      platform: optStr(ch.platform, 'channel.platform'),
      type: optStr(ch.type, 'channel.type'),
      messageId: optStr(ch.messageId, 'channel.messageId'),
      to: party(ch.to, 'channel.to'),
      from: ch.from == null ? undefined : party(ch.from, 'channel.from'),
      time: optStr(ch.time, 'channel.time'),
    }),
    // UNCONFIRMED that it is always sent; when present it must be usable as a Kafka key. The seed's
    // own example carries it as metadata.conversationId instead: taken from there when absent.
    conversationId:
      b.conversationId == null ? nonEmpty(meta?.['conversationId']) : str(b.conversationId, 'conversationId'),
    direction: optStr(b.direction, 'direction'),
    originatingEntity: optStr(b.originatingEntity, 'originatingEntity'),
    type: oneOf(b.type, 'type', messageTypes),
    text: optStr(b.text, 'text'),
    content: content?.map((c, i) => contentItem(c, `content[${i}]`)),
    events: events?.map((e, i) => event(e, `events[${i}]`)),
    status: optStr(b.status, 'status'),
    reasons: reasons?.map((r, i) => {
      const o = obj(r, `reasons[${i}]`)
      return compact({
        code: optStr(o.code, `reasons[${i}].code`),
        message: optStr(o.message, `reasons[${i}].message`),
      })
    }),
    isFinalReceipt: optBool(b.isFinalReceipt, 'isFinalReceipt'),
    metadata: meta,
  })
}

function party(v: unknown, path: string): GenesysParty {
  const o = obj(v, path)
  return compact({
    id: str(o.id, `${path}.id`),
    idType: optStr(o.idType, `${path}.idType`),
    nickname: optStr(o.nickname, `${path}.nickname`),
    firstName: optStr(o.firstName, `${path}.firstName`),
    lastName: optStr(o.lastName, `${path}.lastName`),
  })
}

function contentItem(v: unknown, path: string): GenesysContent {
  const o = obj(v, path)
  const contentType = str(o.contentType, `${path}.contentType`)
  switch (contentType) {
    case 'Attachment':
      return { contentType, attachment: attachment(o.attachment, `${path}.attachment`) }
    case 'Notification':
      return { contentType, template: template(o.template, `${path}.template`) }
    case 'QuickReply': {
      const q = obj(o.quickReply, `${path}.quickReply`)
      const quickReply = compact({
        text: str(q.text, `${path}.quickReply.text`),
        payload: optStr(q.payload, `${path}.quickReply.payload`),
        action: optStr(q.action, `${path}.quickReply.action`),
      })
      return { contentType, quickReply }
    }
    default:
      // Cards, carousels, ...: well-formed but not ours to send. Kept so the transform can
      // answer the agent with a Failed receipt instead of Genesys seeing a 400 (facts §1.3).
      return { contentType: 'Unsupported', originalType: contentType }
  }
}

function attachment(v: unknown, path: string): GenesysAttachment {
  const a = obj(v, path)
  return compact({
    id: optStr(a.id, `${path}.id`),
    mediaType: oneOf(a.mediaType, `${path}.mediaType`, mediaTypes),
    url: optStr(a.url, `${path}.url`),
    mime: optStr(a.mime, `${path}.mime`),
    filename: optStr(a.filename, `${path}.filename`),
    text: optStr(a.text, `${path}.text`),
    sha256: optStr(a.sha256, `${path}.sha256`),
    contentSizeBytes: optNum(a.contentSizeBytes, `${path}.contentSizeBytes`),
  })
}

function template(v: unknown, path: string): GenesysTemplate {
  const tp = obj(v, path)
  const body = optObj(tp.body, `${path}.body`)
  const footer = optObj(tp.footer, `${path}.footer`)
  return compact<GenesysTemplate>({
    id: str(tp.id, `${path}.id`),
    language: optStr(tp.language, `${path}.language`),
    header: tp.header == null ? undefined : header(tp.header, `${path}.header`),
    body:
      body &&
      compact({
        text: optStr(body.text, `${path}.body.text`),
        parameters: params(body.parameters, `${path}.body.parameters`),
      }),
    footer: footer && compact({ text: optStr(footer.text, `${path}.footer.text`) }),
  })
}

function header(v: unknown, path: string): GenesysTemplateHeader {
  const h = obj(v, path)
  const media = optObj(h.media, `${path}.media`)
  return compact<GenesysTemplateHeader>({
    type: oneOf(h.type, `${path}.type`, ['Text', 'Media'] as const),
    text: optStr(h.text, `${path}.text`),
    media:
      media &&
      compact({
        url: str(media.url, `${path}.media.url`),
        mime: optStr(media.mime, `${path}.media.mime`),
        mediaType: media.mediaType == null ? undefined : oneOf(media.mediaType, `${path}.media.mediaType`, mediaTypes),
        filename: optStr(media.filename, `${path}.media.filename`),
      }),
    parameters: params(h.parameters, `${path}.parameters`),
  })
}

function params(v: unknown, path: string): GenesysTemplateParameter[] | undefined {
  return optArr(v, path)?.map((p, i) => {
    const o = obj(p, `${path}[${i}]`)
    // An empty parameter value is legal in Genesys but Meta rejects it (132000); let the send decide.
    const text = optStr(o.text, `${path}[${i}].text`)
    if (text === undefined) throw new ShapeError(`${path}[${i}].text must be a string`)
    return compact({ name: optStr(o.name, `${path}[${i}].name`), text })
  })
}

function event(v: unknown, path: string): GenesysEvent {
  const e = obj(v, path)
  const typing = optObj(e.typing, `${path}.typing`)
  return compact<GenesysEvent>({
    eventType: str(e.eventType, `${path}.eventType`),
    typing:
      typing &&
      compact({
        type: str(typing.type, `${path}.typing.type`),
        duration: optNum(typing.duration, `${path}.typing.duration`),
      }),
  })
}

function stringMap(o: Json, path: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(o)) {
    if (typeof v !== 'string') throw new ShapeError(`${path}.${k} must be a string`)
    out[k] = v
  }
  return out
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v.trim() === '' ? undefined : v
}
