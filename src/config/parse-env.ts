/**
 * Small typed readers for environment values. Each returns the parsed value or records a
 * problem naming the variable, so a bad start reports every mistake at once.
 */
import { readFileSync } from 'node:fs'

export type Env = Readonly<Record<string, string | undefined>>

export class EnvReader {
  readonly problems: string[] = []
  constructor(private readonly env: Env) {}

  private raw(name: string): string | undefined {
    const v = this.env[name]
    return v === undefined || v.trim() === '' ? undefined : v.trim()
  }

  string(name: string, fallback?: string): string {
    const v = this.raw(name) ?? fallback
    if (v === undefined) {
      this.problems.push(`${name} is required (a non-empty string)`)
      return ''
    }
    return v
  }

  optionalString(name: string): string | undefined {
    return this.raw(name)
  }

  int(name: string, fallback: number, min: number, max: number): number {
    const v = this.raw(name)
    if (v === undefined) return fallback
    const n = Number(v)
    if (!Number.isInteger(n) || n < min || n > max) {
      this.problems.push(`${name} must be an integer from ${min} to ${max}, got "${v}"`)
      return fallback
    }
    return n
  }

  url(name: string, fallback: string | undefined, protocols: readonly string[]): string {
    const v = this.raw(name) ?? fallback
    if (v === undefined) {
      this.problems.push(`${name} is required (a URL)`)
      return ''
    }
    try {
      const u = new URL(v)
      if (!protocols.includes(u.protocol)) {
        this.problems.push(`${name} must use ${protocols.join(' or ')}, got "${u.protocol}"`)
      }
    } catch {
      this.problems.push(`${name} must be a URL, got "${v}"`)
    }
    return v.replace(/\/+$/, '')
  }

  oneOf<T extends string>(name: string, fallback: T, allowed: readonly T[]): T {
    const v = this.raw(name) ?? fallback
    if (!(allowed as readonly string[]).includes(v)) {
      this.problems.push(`${name} must be one of ${allowed.join(', ')}, got "${v}"`)
      return fallback
    }
    return v as T
  }

  list<T extends string>(name: string, fallback: readonly T[], allowed: readonly T[]): T[] {
    const v = this.raw(name)
    if (v === undefined) return [...fallback]
    const items = v
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)
    const bad = items.filter((s) => !(allowed as readonly string[]).includes(s))
    if (bad.length > 0 || items.length === 0) {
      this.problems.push(`${name} must be a comma list of ${allowed.join(', ')}, got "${v}"`)
      return [...fallback]
    }
    return [...new Set(items as T[])]
  }

  brokers(name: string, fallback: string): string[] {
    const v = this.raw(name) ?? fallback
    const items = v.split(',').map((s) => s.trim())
    for (const b of items) {
      if (!/^[^\s:]+:\d{1,5}$/.test(b)) this.problems.push(`${name} must be host:port[,host:port], got "${b}"`)
    }
    return items
  }

  base64Key(name: string, bytes: number): Buffer {
    const v = this.raw(name)
    if (v === undefined) {
      this.problems.push(`${name} is required (${bytes} random bytes, base64; e.g. openssl rand -base64 ${bytes})`)
      return Buffer.alloc(bytes)
    }
    const key = Buffer.from(v, 'base64')
    if (key.length !== bytes) {
      this.problems.push(`${name} must decode from base64 to exactly ${bytes} bytes, got ${key.length}`)
    }
    return key
  }

  /** The bytes of the file a variable names (a CA, a certificate, a key), read once at start. */
  file(name: string): Buffer | undefined {
    const path = this.raw(name)
    if (path === undefined) return undefined
    try {
      return readFileSync(path)
    } catch (err) {
      this.problems.push(`${name} names a file that cannot be read: ${(err as Error).message}`)
      return undefined
    }
  }

  /** Every variable of a set that must come together is present, or one problem names the missing. */
  allOf(what: string, names: readonly string[]): boolean {
    const missing = names.filter((n) => this.raw(n) === undefined)
    if (missing.length > 0) this.problems.push(`${what} needs ${names.join(' and ')} (missing: ${missing.join(', ')})`)
    return missing.length === 0
  }

  /** A comma list of base64 keys (possibly empty), each checked like base64Key. */
  base64Keys(name: string, bytes: number): Buffer[] {
    const v = this.raw(name)
    if (v === undefined) return []
    const keys = v
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)
      .map((s) => Buffer.from(s, 'base64'))
    keys.forEach((key, i) => {
      if (key.length !== bytes) {
        this.problems.push(`${name}: key ${i + 1} must decode from base64 to exactly ${bytes} bytes, got ${key.length}`)
      }
    })
    return keys
  }
}
