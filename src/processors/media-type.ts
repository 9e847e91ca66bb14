/**
 * Media types the bridge stores and hands out, and the check of a claimed type against the bytes.
 * Pure. The allow-list is WhatsApp Cloud API's supported media types (Meta's media reference, as
 * listed by AWS End User Messaging and whatsapp-api-js; not in the facts file), plus image/gif,
 * which Genesys' default content profile lets agents send and the outbound flow sends as a document.
 * None of them is rendered as a page by a browser (no HTML, SVG, XML or script), and every object
 * is also served as an attachment (sinks/media.ts), so a hostile file cannot run on the storage
 * origin.
 */

type Sniffer = (b: Buffer) => boolean

const starts =
  (...sig: number[]): Sniffer =>
  (b) =>
    b.length >= sig.length && sig.every((x, i) => b[i] === x)
const ascii = (s: string, at = 0): Sniffer => {
  const sig = Buffer.from(s, 'latin1')
  return (b) => b.length >= at + sig.length && b.subarray(at, at + sig.length).equals(sig)
}
const any =
  (...fs: Sniffer[]): Sniffer =>
  (b) =>
    fs.some((f) => f(b))

const isoMedia = ascii('ftyp', 4)
const ole = starts(0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1)
const zip = starts(0x50, 0x4b, 0x03, 0x04)
const mpegFrame: Sniffer = (b) => b.length >= 2 && b[0] === 0xff && ((b[1] ?? 0) & 0xe0) === 0xe0
const adts: Sniffer = (b) => b.length >= 2 && b[0] === 0xff && ((b[1] ?? 0) & 0xf6) === 0xf0

/** Plain text: valid UTF-8, no NUL, and not markup a browser might sniff as a page. */
const plainText: Sniffer = (b) => {
  if (b.includes(0)) return false
  let text: string
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(b)
  } catch {
    return false
  }
  return !/^[\s\uFEFF]*</.test(text)
}

export const allowedMediaTypes: Readonly<Record<string, Sniffer>> = {
  'audio/aac': any(adts, ascii('ADIF')),
  'audio/amr': ascii('#!AMR'),
  'audio/mpeg': any(ascii('ID3'), mpegFrame),
  'audio/mp4': isoMedia,
  'audio/ogg': ascii('OggS'),
  'text/plain': plainText,
  'application/pdf': ascii('%PDF-'),
  'application/msword': ole,
  'application/vnd.ms-excel': ole,
  'application/vnd.ms-powerpoint': ole,
  'application/vnd.openxmlformats-officedocument.wordprocessingml.document': zip,
  'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet': zip,
  'application/vnd.openxmlformats-officedocument.presentationml.presentation': zip,
  'image/jpeg': starts(0xff, 0xd8, 0xff),
  'image/png': starts(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a),
  'image/webp': (b) => ascii('RIFF')(b) && ascii('WEBP', 8)(b),
  'image/gif': any(ascii('GIF87a'), ascii('GIF89a')),
  'video/mp4': isoMedia,
  'video/3gpp': isoMedia,
}

/** Spellings seen in the wild for the same type. */
const aliases: Readonly<Record<string, string>> = {
  'image/jpg': 'image/jpeg',
  'image/pjpeg': 'image/jpeg',
  'video/3gp': 'video/3gpp',
  'audio/mp3': 'audio/mpeg',
  'audio/x-m4a': 'audio/mp4',
  'audio/opus': 'audio/ogg',
}

/** `Image/JPEG; charset=x` → `image/jpeg`; aliases folded. */
export function normaliseMediaType(declared: string | undefined): string | undefined {
  const t = declared?.split(';')[0]?.trim().toLowerCase()
  if (t === undefined || t === '') return undefined
  return Object.hasOwn(aliases, t) ? (aliases[t] ?? t) : t
}

export type MediaTypeCheck =
  | { ok: true; contentType: string }
  | { ok: false; reason: 'media_type_not_allowed' | 'media_type_mismatch'; declared: string }

/**
 * The type to store the bytes under: the declared type when it is allowed and the bytes look like
 * it; otherwise a refusal naming why (the declared type is cut short, it came from outside).
 */
export function checkMediaType(declared: string | undefined, bytes: Buffer): MediaTypeCheck {
  const type = normaliseMediaType(declared) ?? 'application/octet-stream'
  const sniff = Object.hasOwn(allowedMediaTypes, type) ? allowedMediaTypes[type] : undefined
  const shown = type.slice(0, 100)
  if (sniff === undefined) return { ok: false, reason: 'media_type_not_allowed', declared: shown }
  // Only the head is needed for every signature; text is checked whole (it is small, 100 MB at most).
  if (!sniff(bytes)) return { ok: false, reason: 'media_type_mismatch', declared: shown }
  return { ok: true, contentType: type === 'text/plain' ? 'text/plain; charset=utf-8' : type }
}

/** File extension for an allowed type, for object keys and download names. */
export function extensionOf(contentType: string): string {
  const t = normaliseMediaType(contentType) ?? ''
  return Object.hasOwn(extensions, t) ? (extensions[t] ?? 'bin') : 'bin'
}

const extensions: Readonly<Record<string, string>> = {
  'audio/aac': 'aac',
  'audio/amr': 'amr',
  'audio/mpeg': 'mp3',
  'audio/mp4': 'm4a',
  'audio/ogg': 'ogg',
  'text/plain': 'txt',
  'application/pdf': 'pdf',
  'application/msword': 'doc',
  'application/vnd.ms-excel': 'xls',
  'application/vnd.ms-powerpoint': 'ppt',
  'application/vnd.openxmlformats-officedocument.wordprocessingml.document': 'docx',
  'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet': 'xlsx',
  'application/vnd.openxmlformats-officedocument.presentationml.presentation': 'pptx',
  'image/jpeg': 'jpg',
  'image/png': 'png',
  'image/webp': 'webp',
  'image/gif': 'gif',
  'video/mp4': 'mp4',
  'video/3gpp': '3gp',
}
