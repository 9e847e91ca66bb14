/**
 * Small shape checks shared by the webhook parsers. Each throws ShapeError naming the JSON path,
 * which the parser turns into `{ ok: false, reason }`; nothing escapes the parser.
 * `null` counts as absent for optional fields: both platforms' SDKs serialise unset fields as null.
 */

export type Json = Record<string, unknown>
export type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string }

export class ShapeError extends Error {}

export function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

export function obj(v: unknown, path: string): Json {
  if (!isObject(v)) throw new ShapeError(`${path} must be an object`)
  return v
}

export function optObj(v: unknown, path: string): Json | undefined {
  return v == null ? undefined : obj(v, path)
}

export function str(v: unknown, path: string): string {
  if (typeof v !== 'string' || v === '') throw new ShapeError(`${path} must be a non-empty string`)
  return v
}

export function optStr(v: unknown, path: string): string | undefined {
  if (v == null) return undefined
  if (typeof v !== 'string') throw new ShapeError(`${path} must be a string`)
  return v
}

export function optNum(v: unknown, path: string): number | undefined {
  if (v == null) return undefined
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new ShapeError(`${path} must be a finite number`)
  return v
}

export function optBool(v: unknown, path: string): boolean | undefined {
  if (v == null) return undefined
  if (typeof v !== 'boolean') throw new ShapeError(`${path} must be a boolean`)
  return v
}

export function optArr(v: unknown, path: string): unknown[] | undefined {
  if (v == null) return undefined
  if (!Array.isArray(v)) throw new ShapeError(`${path} must be an array`)
  return v
}

export function oneOf<T extends string>(v: unknown, path: string, allowed: readonly T[]): T {
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
    throw new ShapeError(`${path} must be one of ${allowed.join('|')}`)
  }
  return v as T
}

/** Drops undefined keys so parsed values compare and serialise like the input. */
export function compact<T extends object>(o: T): T {
  for (const k of Object.keys(o) as (keyof T)[]) if (o[k] === undefined) delete o[k]
  return o
}

/** Deeper than any real webhook (both platforms stay under 10); JSON.stringify recurses per level. */
export const maxJsonDepth = 64
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/**
 * JSON.parse of raw webhook bytes with a root-object check. Bytes that are not UTF-8 and nesting
 * deeper than maxJsonDepth fail as a reason: a lossy decode would let the stored raw bytes and the
 * parsed message disagree, and deep values overflow the stack of JSON.stringify later on.
 */
export function parseJsonObject(raw: Buffer, maxBytes: number): Json {
  if (raw.length > maxBytes) throw new ShapeError(`body is ${raw.length} bytes, more than ${maxBytes}`)
  let text: string
  try {
    text = utf8.decode(raw)
  } catch {
    throw new ShapeError('body is not valid UTF-8')
  }
  const depth = jsonDepth(text)
  if (depth > maxJsonDepth) throw new ShapeError(`body nests deeper than ${maxJsonDepth} levels`)
  let v: unknown
  try {
    v = JSON.parse(text)
  } catch (err) {
    throw new ShapeError(`body is not valid JSON (${err instanceof Error ? err.message : String(err)})`)
  }
  return obj(v, 'body')
}

export function runParser<T>(fn: () => T): Parsed<T> {
  try {
    return { ok: true, value: fn() }
  } catch (err) {
    if (err instanceof ShapeError) return { ok: false, reason: err.message }
    throw err
  }
}

/** Deepest [ or { nesting outside strings; stops counting once past the limit. */
function jsonDepth(text: string): number {
  let depth = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 0x5c) i++
      else if (c === 0x22) inString = false
    } else if (c === 0x22) inString = true
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > maxJsonDepth) return depth
    } else if (c === 0x5d || c === 0x7d) depth--
  }
  return 0
}
