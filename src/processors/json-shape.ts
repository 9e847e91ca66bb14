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

/** JSON.parse of raw webhook bytes with a root-object check; deep nesting fails as a reason, not a crash. */
export function parseJsonObject(raw: Buffer, maxBytes: number): Json {
  if (raw.length > maxBytes) throw new ShapeError(`body is ${raw.length} bytes, more than ${maxBytes}`)
  let v: unknown
  try {
    v = JSON.parse(raw.toString('utf8'))
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
