import type { EnvReader } from './parse-env.js'

/** Credentials of the schema registry: Confluent Cloud's API key as basic auth, or a bearer token. */
export type RegistryAuth =
  | { readonly kind: 'basic'; readonly username: string; readonly password: string }
  | { readonly kind: 'bearer'; readonly token: string }

export function readRegistryAuth(r: EnvReader): RegistryAuth | undefined {
  const token = r.optionalString('SCHEMA_REGISTRY_TOKEN')
  const basic = ['SCHEMA_REGISTRY_USERNAME', 'SCHEMA_REGISTRY_PASSWORD']
  const anyBasic = basic.some((n) => r.optionalString(n) !== undefined)
  if (token !== undefined && anyBasic) {
    r.problems.push('SCHEMA_REGISTRY_TOKEN and SCHEMA_REGISTRY_USERNAME/PASSWORD are two kinds of credentials; set one')
  }
  if (token !== undefined) return { kind: 'bearer', token }
  if (!anyBasic || !r.allOf('schema registry basic auth', basic)) return undefined
  return {
    kind: 'basic',
    username: r.optionalString('SCHEMA_REGISTRY_USERNAME') ?? '',
    password: r.optionalString('SCHEMA_REGISTRY_PASSWORD') ?? '',
  }
}

/** libpq's sslmode values that mean something to a client that never falls back to plain text. */
export const sslModes = ['disable', 'require', 'verify-ca', 'verify-full'] as const
export type SslMode = (typeof sslModes)[number]

export interface DatabaseTls {
  readonly mode: SslMode
  readonly ca: Buffer | undefined
}

/** DATABASE_SSLMODE wins over an `sslmode` in DATABASE_URL; a CA file without verification is a mistake. */
export function readDatabaseTls(r: EnvReader, databaseUrl: string): DatabaseTls {
  let fromUrl: string | undefined
  try {
    fromUrl = new URL(databaseUrl).searchParams.get('sslmode') ?? undefined
  } catch {
    fromUrl = undefined // DATABASE_URL's own problem is already reported
  }
  const fallback = (sslModes as readonly string[]).includes(fromUrl ?? '') ? (fromUrl as SslMode) : 'disable'
  const mode = r.oneOf('DATABASE_SSLMODE', fallback, sslModes)
  const ca = r.file('DATABASE_SSL_CA_FILE')
  if (ca !== undefined && !mode.startsWith('verify-')) {
    r.problems.push(`DATABASE_SSL_CA_FILE is only used with DATABASE_SSLMODE=verify-ca or verify-full, got ${mode}`)
  }
  return { mode, ca }
}

/** TLS to Redis comes from a `rediss://` URL; REDIS_TLS_CA_FILE adds a private CA. */
export function readRedisTlsCa(r: EnvReader, redisUrl: string): Buffer | undefined {
  const ca = r.file('REDIS_TLS_CA_FILE')
  if (ca !== undefined && !redisUrl.startsWith('rediss:')) {
    r.problems.push('REDIS_TLS_CA_FILE needs a rediss:// REDIS_URL (TLS)')
  }
  return ca
}
