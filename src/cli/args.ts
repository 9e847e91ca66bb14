import { parseArgs, type ParseArgsConfig } from 'node:util'
import { UsageError } from './errors.js'

type Options = NonNullable<ParseArgsConfig['options']>

export interface Parsed {
  values: Record<string, string | boolean | undefined>
  positionals: string[]
}

/**
 * node:util parseArgs in strict mode; its errors (unknown option, missing value) become usage
 * errors that name the command, so the user sees which command refused what.
 */
export function parseFlags(
  command: string,
  args: readonly string[],
  options: Options,
  positionals: { min: number; max: number; names?: string } = { min: 0, max: 0 },
): Parsed {
  let parsed
  try {
    parsed = parseArgs({ args: [...args], options, strict: true, allowPositionals: positionals.max > 0 })
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err)
    throw new UsageError(`${command}: ${msg.replace(/\. To specify a positional argument.*$/s, '')}`)
  }
  const pos = parsed.positionals
  if (pos.length < positionals.min) {
    throw new UsageError(`${command}: missing ${positionals.names ?? 'argument'}`)
  }
  if (pos.length > positionals.max) {
    throw new UsageError(`${command}: unexpected argument "${pos[positionals.max] ?? ''}"`)
  }
  return { values: parsed.values as Parsed['values'], positionals: pos }
}

export function str(p: Parsed, name: string): string | undefined {
  const v = p.values[name]
  return typeof v === 'string' ? v : undefined
}

export function bool(p: Parsed, name: string): boolean {
  return p.values[name] === true
}

export function requireStr(command: string, p: Parsed, name: string): string {
  const v = str(p, name)
  if (v === undefined || v === '') throw new UsageError(`${command}: --${name} is required`)
  return v
}

/** A non-negative integer flag (offsets, partitions, counts), or undefined when absent. */
export function intFlag(command: string, p: Parsed, name: string, min = 0): number | undefined {
  const v = str(p, name)
  if (v === undefined) return undefined
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(Number(v)) || Number(v) < min) {
    throw new UsageError(`${command}: --${name} must be an integer >= ${min}, got "${v}"`)
  }
  return Number(v)
}

const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:?\d{2})$/

/**
 * A date flag: `2025-01-31` (UTC midnight; as an upper bound, the end of that day) or a full ISO
 * timestamp with a zone (`2025-01-31T10:00:00Z`). Anything else is a usage error.
 */
export function dateFlag(command: string, p: Parsed, name: string, bound: 'start' | 'end'): Date | undefined {
  const v = str(p, name)
  if (v === undefined) return undefined
  if (DATE_ONLY.test(v)) {
    const d = new Date(`${v}T00:00:00.000Z`)
    if (!Number.isNaN(d.getTime()) && d.toISOString().startsWith(v)) {
      return bound === 'end' ? new Date(d.getTime() + 86_400_000) : d
    }
  } else if (ISO.test(v)) {
    const d = new Date(v)
    if (!Number.isNaN(d.getTime())) return d
  }
  throw new UsageError(
    `${command}: --${name} must be a date (2025-01-31) or an ISO timestamp with a zone (2025-01-31T10:00:00Z), got "${v}"`,
  )
}

const DURATION = /^(\d{1,6})(s|m|h|d)$/
const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const

/** A duration flag: `0`, or a whole number of s, m, h or d (`90s`, `15m`, `24h`, `7d`), up to `maxMs`. */
export function durationFlag(command: string, p: Parsed, name: string, maxMs: number): number | undefined {
  const v = str(p, name)
  if (v === undefined) return undefined
  const m = DURATION.exec(v)
  const ms = v === '0' ? 0 : m === null ? NaN : Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS]
  if (!Number.isFinite(ms) || ms > maxMs) {
    throw new UsageError(
      `${command}: --${name} must be 0 or a duration like 90s, 15m, 24h or 7d, at most ${maxMs / 86_400_000}d, got "${v}"`,
    )
  }
  return ms
}
