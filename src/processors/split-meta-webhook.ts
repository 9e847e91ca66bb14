import {
  compact,
  obj,
  oneOf,
  optArr,
  optNum,
  optObj,
  optStr,
  parseJsonObject,
  runParser,
  ShapeError,
  str,
  type Parsed,
} from './json-shape.js'
import type {
  MetaChange,
  MetaChangeValue,
  MetaError,
  MetaInboundMessage,
  MetaStatus,
  MetaWebhook,
} from './types/meta.js'

/** Meta batches; a POST is commonly well under this (facts §4.3 mentions ~3 MB). */
const defaultMaxBytes = 4 * 1024 * 1024
const statusValues = ['sent', 'delivered', 'read', 'failed'] as const

interface ItemBase {
  phoneNumberId: string
  displayPhoneNumber: string
  /** The customer: `from` for messages, `recipient_id` for statuses. */
  waId: string
  /** Unix ms (Meta sends Unix seconds as a string). */
  timestampMs: number
  wamid: string
  /** The item's own JSON, for the topic record. */
  json: string
}

export interface MetaInboundItem extends ItemBase {
  profileName?: string
  message: MetaInboundMessage
}

export interface MetaStatusItem extends ItemBase {
  status: MetaStatus
}

/** `value.errors[]` arriving on their own (for example 130429), not tied to a message. */
export interface MetaErrorItem {
  phoneNumberId: string
  displayPhoneNumber: string
  error: MetaError
  json: string
}

export interface MetaWebhookSplit {
  phoneNumberIds: string[]
  messages: MetaInboundItem[]
  statuses: MetaStatusItem[]
  errors: MetaErrorItem[]
}

/** Parses a Meta webhook POST body; only `field: "messages"` changes are validated and kept. */
export function parseMetaWebhook(raw: Buffer, maxBytes = defaultMaxBytes): Parsed<MetaWebhook> {
  return runParser(() => {
    const b = parseJsonObject(raw, maxBytes)
    const entry = optArr(b.entry, 'entry') ?? []
    return {
      object: str(b.object, 'object'),
      entry: entry.map((e, i) => {
        const o = obj(e, `entry[${i}]`)
        const changes = optArr(o.changes, `entry[${i}].changes`) ?? []
        return {
          id: str(o.id, `entry[${i}].id`),
          changes: changes.map((c, j) => change(c, `entry[${i}].changes[${j}]`)),
        }
      }),
    }
  })
}

function change(v: unknown, path: string): MetaChange {
  const c = obj(v, path)
  const field = str(c.field, `${path}.field`)
  return field === 'messages' ? { field, value: changeValue(c.value, `${path}.value`) } : { field }
}

function changeValue(v: unknown, path: string): MetaChangeValue {
  const o = obj(v, path)
  const md = obj(o.metadata, `${path}.metadata`)
  const contacts = optArr(o.contacts, `${path}.contacts`)
  const messages = optArr(o.messages, `${path}.messages`)
  const statuses = optArr(o.statuses, `${path}.statuses`)
  const errors = optArr(o.errors, `${path}.errors`)
  return compact<MetaChangeValue>({
    messaging_product: optStr(o.messaging_product, `${path}.messaging_product`),
    metadata: {
      display_phone_number: optStr(md.display_phone_number, `${path}.metadata.display_phone_number`) ?? '',
      phone_number_id: str(md.phone_number_id, `${path}.metadata.phone_number_id`),
    },
    contacts: contacts?.map((c, i) => {
      const p = `${path}.contacts[${i}]`
      const co = obj(c, p)
      const profile = optObj(co.profile, `${p}.profile`)
      const name = profile && optStr(profile.name, `${p}.profile.name`)
      return compact({ wa_id: str(co.wa_id, `${p}.wa_id`), profile: profile && compact({ name }) })
    }),
    messages: messages?.map((m, i) => message(m, `${path}.messages[${i}]`)),
    statuses: statuses?.map((s, i) => status(s, `${path}.statuses[${i}]`)),
    errors: errors?.map((e, i) => metaError(e, `${path}.errors[${i}]`)),
  })
}

/** Media-carrying message types and the object each carries. */
const mediaTypes = new Set(['image', 'video', 'audio', 'document', 'sticker'])

function message(v: unknown, path: string): MetaInboundMessage {
  const m = obj(v, path)
  str(m.from, `${path}.from`)
  str(m.id, `${path}.id`)
  unixSeconds(m.timestamp, `${path}.timestamp`)
  const type = str(m.type, `${path}.type`)
  // The parts the inbound transform reads are checked here so it never meets a wrong type.
  if (type === 'text') str(obj(m.text, `${path}.text`).body, `${path}.text.body`)
  if (mediaTypes.has(type)) str(obj(m[type], `${path}.${type}`).id, `${path}.${type}.id`)
  if (type === 'location') {
    const l = obj(m.location, `${path}.location`)
    if (optNum(l.latitude, `${path}.location.latitude`) === undefined)
      throw new ShapeError(`${path}.location.latitude is missing`)
    if (optNum(l.longitude, `${path}.location.longitude`) === undefined)
      throw new ShapeError(`${path}.location.longitude is missing`)
  }
  if (type === 'interactive') str(obj(m.interactive, `${path}.interactive`).type, `${path}.interactive.type`)
  if (type === 'button') optStr(obj(m.button, `${path}.button`).text, `${path}.button.text`)
  if (type === 'contacts') optArr(m.contacts, `${path}.contacts`)
  optArr(m.errors, `${path}.errors`)?.forEach((e, i) => metaError(e, `${path}.errors[${i}]`))
  return m as unknown as MetaInboundMessage
}

function status(v: unknown, path: string): MetaStatus {
  const s = obj(v, path)
  const errors = optArr(s.errors, `${path}.errors`)
  return compact<MetaStatus>({
    id: str(s.id, `${path}.id`),
    status: oneOf(s.status, `${path}.status`, statusValues),
    timestamp: String(unixSeconds(s.timestamp, `${path}.timestamp`)),
    recipient_id: str(s.recipient_id, `${path}.recipient_id`),
    errors: errors?.map((e, i) => metaError(e, `${path}.errors[${i}]`)),
    conversation: s.conversation ?? undefined,
    pricing: s.pricing ?? undefined,
    biz_opaque_callback_data: optStr(s.biz_opaque_callback_data, `${path}.biz_opaque_callback_data`),
  })
}

function metaError(v: unknown, path: string): MetaError {
  const e = obj(v, path)
  const code = optNum(e.code, `${path}.code`)
  if (code === undefined) throw new ShapeError(`${path}.code must be a finite number`)
  const data = optObj(e.error_data, `${path}.error_data`)
  return compact<MetaError>({
    code,
    title: optStr(e.title, `${path}.title`),
    message: optStr(e.message, `${path}.message`),
    error_data: data && compact({ details: optStr(data.details, `${path}.error_data.details`) }),
  })
}

function unixSeconds(v: unknown, path: string): number {
  if (typeof v !== 'string' || !/^\d{1,12}$/.test(v)) throw new ShapeError(`${path} must be a string of Unix seconds`)
  return Number(v)
}

/** One record per message, status and error, from every entry and change (facts §6.10). */
export function splitMetaWebhook(payload: MetaWebhook): MetaWebhookSplit {
  const out: MetaWebhookSplit = { phoneNumberIds: [], messages: [], statuses: [], errors: [] }
  for (const entry of payload.entry) {
    for (const ch of entry.changes) {
      if (ch.field !== 'messages' || ch.value === undefined) continue
      splitValue(ch.value, out)
    }
  }
  return out
}

function splitValue(v: MetaChangeValue, out: MetaWebhookSplit): void {
  const phoneNumberId = v.metadata.phone_number_id
  const displayPhoneNumber = v.metadata.display_phone_number
  if (!out.phoneNumberIds.includes(phoneNumberId)) out.phoneNumberIds.push(phoneNumberId)
  for (const m of v.messages ?? []) {
    const base = {
      phoneNumberId,
      displayPhoneNumber,
      waId: m.from,
      wamid: m.id,
      timestampMs: Number(m.timestamp) * 1000,
    }
    const profileName = profileFor(v, m.from)
    out.messages.push({
      ...base,
      ...(profileName === undefined ? {} : { profileName }),
      message: m,
      json: JSON.stringify(m),
    })
  }
  for (const s of v.statuses ?? []) {
    const base = { phoneNumberId, displayPhoneNumber, waId: s.recipient_id, wamid: s.id }
    out.statuses.push({ ...base, timestampMs: Number(s.timestamp) * 1000, status: s, json: JSON.stringify(s) })
  }
  for (const e of v.errors ?? []) {
    out.errors.push({ phoneNumberId, displayPhoneNumber, error: e, json: JSON.stringify(e) })
  }
}

function profileFor(v: MetaChangeValue, waId: string): string | undefined {
  const contacts = v.contacts ?? []
  // Meta lists the sender's contact by wa_id; with a single contact, it is the sender.
  const c = contacts.find((x) => x.wa_id === waId) ?? (contacts.length === 1 ? contacts[0] : undefined)
  const name = c?.profile?.name
  return name === undefined || name === '' ? undefined : name
}
