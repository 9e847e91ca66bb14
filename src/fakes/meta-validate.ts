import { isObject } from './http-server.js'

/**
 * Validation of a `/messages` body the way the Cloud API rejects it: code 100 with a message
 * naming the parameter. Returns undefined when the body is acceptable.
 */

export interface MetaValidationError {
  message: string
  details?: string
}

const MEDIA = new Set(['image', 'video', 'audio', 'document', 'sticker'])
const CAPTIONED = new Set(['image', 'video', 'document'])
export const MESSAGE_TYPES = new Set([...MEDIA, 'text', 'template', 'interactive', 'reaction'])

const required = (p: string): MetaValidationError => ({ message: `(#100) The parameter ${p} is required.` })
const invalid = (details: string): MetaValidationError => ({ message: '(#100) Invalid parameter', details })

const isNonEmptyString = (v: unknown): v is string => typeof v === 'string' && v.length > 0

export function validateSend(body: unknown): MetaValidationError | undefined {
  if (!isObject(body)) return invalid('Request body must be a JSON object.')
  if (body.messaging_product === undefined) return required('messaging_product')
  if (body.messaging_product !== 'whatsapp') {
    return invalid("Param messaging_product must be 'whatsapp'.")
  }
  if (body.recipient_type !== undefined && body.recipient_type !== 'individual') {
    return invalid("Param recipient_type must be 'individual'.")
  }
  if (!isNonEmptyString(body.to)) return required('to')
  if (!/^\+?[0-9]{5,20}$/.test(body.to)) return invalid(`Param to is not a valid phone number: ${body.to}`)
  const type = body.type ?? 'text' // Meta defaults type to text
  if (typeof type !== 'string' || !MESSAGE_TYPES.has(type)) {
    return invalid(`Param type must be one of {${[...MESSAGE_TYPES].join(', ')}}.`)
  }
  const obj = body[type]
  if (!isObject(obj)) return required(type)
  if (body.context !== undefined && !(isObject(body.context) && isNonEmptyString(body.context.message_id))) {
    return invalid("Param context['message_id'] is required.")
  }
  if (type === 'text') return validateText(obj)
  if (MEDIA.has(type)) return validateMedia(type, obj)
  if (type === 'reaction') return validateReaction(obj)
  if (type === 'template') return validateTemplate(obj)
  return validateInteractive(obj)
}

function validateText(o: Record<string, unknown>): MetaValidationError | undefined {
  if (typeof o.body !== 'string' || o.body.length === 0) return required("text['body']")
  // Meta counts characters, not bytes; [...s] counts code points like the API does for emoji.
  if ([...o.body].length > 4096) return invalid("Param text['body'] must be at most 4096 characters long.")
  if (o.preview_url !== undefined && typeof o.preview_url !== 'boolean') {
    return invalid("Param text['preview_url'] must be a boolean.")
  }
  return undefined
}

function validateMedia(type: string, o: Record<string, unknown>): MetaValidationError | undefined {
  const hasLink = o.link !== undefined
  const hasId = o.id !== undefined
  if (hasLink === hasId) return invalid(`Please specify exactly one of ${type}['id'] or ${type}['link'].`)
  if (hasLink) {
    if (typeof o.link !== 'string' || !/^https?:\/\/\S+$/i.test(o.link)) {
      return invalid(`Param ${type}['link'] must be a valid URL.`)
    }
  } else if (!isNonEmptyString(o.id)) {
    return invalid(`Param ${type}['id'] must be a valid media id.`)
  }
  if (o.caption !== undefined) {
    if (!CAPTIONED.has(type)) return invalid(`Param ${type}['caption'] is not supported for ${type}.`)
    if (typeof o.caption !== 'string' || [...o.caption].length > 1024) {
      return invalid(`Param ${type}['caption'] must be a string of at most 1024 characters.`)
    }
  }
  if (o.filename !== undefined && (type !== 'document' || typeof o.filename !== 'string')) {
    return invalid(`Param ${type}['filename'] is only valid as a string on document.`)
  }
  return undefined
}

function validateReaction(o: Record<string, unknown>): MetaValidationError | undefined {
  if (!isNonEmptyString(o.message_id)) return required("reaction['message_id']")
  // An empty emoji removes a reaction, so only the type is checked.
  if (typeof o.emoji !== 'string') return required("reaction['emoji']")
  return undefined
}

function validateTemplate(o: Record<string, unknown>): MetaValidationError | undefined {
  if (!isNonEmptyString(o.name)) return required("template['name']")
  if (!isObject(o.language) || !isNonEmptyString(o.language.code)) return required("template['language']['code']")
  if (o.components !== undefined) {
    if (!Array.isArray(o.components)) return invalid("Param template['components'] must be an array.")
    for (const c of o.components) {
      if (!isObject(c) || !isNonEmptyString(c.type)) return required("template['components'][i]['type']")
    }
  }
  return undefined
}

function validateInteractive(o: Record<string, unknown>): MetaValidationError | undefined {
  const t = o.type
  if (!isObject(o.body) || typeof o.body.text !== 'string') return required("interactive['body']['text']")
  if ([...o.body.text].length > 1024)
    return invalid("Param interactive['body']['text'] must be at most 1024 characters long.")
  if (
    o.footer !== undefined &&
    !(isObject(o.footer) && typeof o.footer.text === 'string' && [...o.footer.text].length <= 60)
  ) {
    return invalid("Param interactive['footer']['text'] must be at most 60 characters long.")
  }
  if (!isObject(o.action)) return required("interactive['action']")
  if (t === 'button') {
    const buttons = o.action.buttons
    if (!Array.isArray(buttons) || buttons.length < 1 || buttons.length > 3) {
      return invalid("Param interactive['action']['buttons'] must have between 1 and 3 elements.")
    }
    for (const b of buttons) {
      const reply = isObject(b) ? b.reply : undefined
      if (!isObject(b) || b.type !== 'reply' || !isObject(reply))
        return required("interactive['action']['buttons'][i]['reply']")
      if (!isNonEmptyString(reply.id) || reply.id.length > 256) return invalid('Button id must be 1 to 256 characters.')
      if (!isNonEmptyString(reply.title) || [...reply.title].length > 20) {
        return invalid('Button title must be 1 to 20 characters.')
      }
    }
    return undefined
  }
  if (t === 'list') {
    if (!isNonEmptyString(o.action.button)) return required("interactive['action']['button']")
    if (!Array.isArray(o.action.sections) || o.action.sections.length === 0) {
      return required("interactive['action']['sections']")
    }
    return undefined
  }
  return invalid("Param interactive['type'] must be one of {button, list, cta_url, product, product_list, flow}.")
}
