import { randomUUID } from 'node:crypto'
import { isObject } from './http-server.js'

/**
 * Genesys Cloud error bodies and the checks its Open Messaging inbound endpoints apply (facts §2).
 * Every Platform API error has the same shape: message, code, status, contextId, details, errors.
 */

export interface GenesysErrorBody {
  message: string
  code: string
  status: number
  contextId: string
  details: unknown[]
  errors: unknown[]
}

export function genesysError(status: number, code: string, message: string): GenesysErrorBody {
  return { message, code, status, contextId: randomUUID(), details: [], errors: [] }
}

export const badRequest = (message: string): GenesysErrorBody => genesysError(400, 'bad.request', message)

export const RECEIPT_REASON_CODES = new Set([
  'MessageExpired',
  'RateLimited',
  'MessageNotAllowed',
  'GeneralError',
  'UnsupportedMessage',
  'UnknownMessage',
  'InvalidMessageStructure',
  'InvalidDestination',
  'ServerError',
  'MediaTypeNotAllowed',
  'InvalidMediaContentLength',
  'RecipientOptedOut',
])

const ID_TYPES = new Set(['Email', 'Phone', 'Opaque'])
const MEDIA_TYPES = new Set(['Image', 'Video', 'Audio', 'File', 'Link'])
const isNonEmptyString = (v: unknown): v is string => typeof v === 'string' && v.length > 0
const isIsoTime = (v: unknown): boolean =>
  typeof v === 'string' &&
  /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})$/.test(v) &&
  !Number.isNaN(Date.parse(v))

function checkParty(p: unknown, name: string): string | undefined {
  if (!isObject(p)) return `channel.${name} is required`
  if (!isNonEmptyString(p.id)) return `channel.${name}.id is required`
  if (!isNonEmptyString(p.idType)) return `channel.${name}.idType is required`
  if (!ID_TYPES.has(p.idType)) return `channel.${name}.idType must be one of Email, Phone, Opaque`
  return undefined
}

function checkChannel(body: Record<string, unknown>, party: 'from' | 'to'): string | undefined {
  const ch = body.channel
  if (!isObject(ch)) return 'channel is required'
  const bad = checkParty(ch[party], party)
  if (bad !== undefined) return bad
  if (ch.time === undefined) return 'channel.time is required'
  if (!isIsoTime(ch.time)) return 'channel.time must be an ISO-8601 date-time'
  return undefined
}

/** Returns a message naming the first problem, or undefined when the body is acceptable. */
export function validateInboundMessage(body: unknown): string | undefined {
  if (!isObject(body)) return 'request body must be a JSON object'
  const bad = checkChannel(body, 'from')
  if (bad !== undefined) return bad
  const hasText = typeof body.text === 'string' && body.text.length > 0
  const hasContent = Array.isArray(body.content) && body.content.length > 0
  // Genesys reports a failed anyOf(text, content) when both are missing.
  if (!hasText && !hasContent) return 'instance failed to match at least one required schema among 2 (text, content)'
  if (body.text !== undefined && typeof body.text !== 'string') return 'text must be a string'
  if (body.content !== undefined) {
    if (!Array.isArray(body.content)) return 'content must be an array'
    for (const [i, c] of body.content.entries()) {
      if (!isObject(c)) return `content[${i}] must be an object`
      if (c.contentType !== undefined && c.contentType !== 'Attachment') {
        return `content[${i}].contentType must be Attachment`
      }
      const a = c.attachment
      if (!isObject(a)) return `content[${i}].attachment is required`
      if (!isNonEmptyString(a.mediaType) || !MEDIA_TYPES.has(a.mediaType)) {
        return `content[${i}].attachment.mediaType must be one of Image, Video, Audio, File, Link`
      }
      if (!isNonEmptyString(a.url)) return `content[${i}].attachment.url is required`
      if (!/^https?:\/\//i.test(a.url)) return `content[${i}].attachment.url must be an http(s) URL`
      if (!isNonEmptyString(a.mime)) return `content[${i}].attachment.mime is required`
    }
  }
  return undefined
}

export function validateReceipt(body: unknown): string | undefined {
  if (!isObject(body)) return 'request body must be a JSON object'
  if (!isNonEmptyString(body.id)) return 'id is required'
  const bad = checkChannel(body, 'to')
  if (bad !== undefined) return bad
  if (body.status !== 'Delivered' && body.status !== 'Failed') return 'status must be one of Delivered, Failed'
  if (body.direction !== undefined && body.direction !== 'Outbound') return 'direction must be Outbound'
  if (body.isFinalReceipt !== undefined && typeof body.isFinalReceipt !== 'boolean') {
    return 'isFinalReceipt must be a boolean'
  }
  if (body.status === 'Failed' && !(Array.isArray(body.reasons) && body.reasons.length > 0)) {
    return 'reasons are required when status is Failed'
  }
  if (body.reasons !== undefined) {
    if (!Array.isArray(body.reasons)) return 'reasons must be an array'
    for (const [i, r] of body.reasons.entries()) {
      if (!isObject(r) || !isNonEmptyString(r.code)) return `reasons[${i}].code is required`
      if (!RECEIPT_REASON_CODES.has(r.code)) return `reasons[${i}].code ${r.code} is not a valid reason code`
      if (!isNonEmptyString(r.message)) return `reasons[${i}].message is required`
    }
  }
  return undefined
}

export function validateEvent(body: unknown): string | undefined {
  if (!isObject(body)) return 'request body must be a JSON object'
  const bad = checkChannel(body, 'from')
  if (bad !== undefined) return bad
  if (!Array.isArray(body.events) || body.events.length === 0) return 'events is required'
  for (const [i, e] of body.events.entries()) {
    if (!isObject(e) || !isNonEmptyString(e.eventType)) return `events[${i}].eventType is required`
    if (e.eventType === 'Typing') {
      if (!isObject(e.typing) || (e.typing.type !== 'On' && e.typing.type !== 'Off')) {
        return `events[${i}].typing.type must be On or Off`
      }
    } else if (e.eventType !== 'Presence') {
      return `events[${i}].eventType must be one of Typing, Presence`
    }
  }
  return undefined
}
