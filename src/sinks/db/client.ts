import { BridgeError, isBridgeError } from '../../errors.js'
import type { ConnectionOptions } from 'node:tls'
import postgres from 'postgres'
import type { DatabaseTls } from '../../config/service-auth.js'

export type Sql = postgres.Sql

export interface DbOptions {
  /** Pool size. Hot-path writes are batched, so a handful of connections carries thousands of rows/s. */
  max: number
  /** Seconds a query may wait for a free connection before failing (fail fast instead of piling up). */
  connectTimeoutSeconds?: number
  applicationName?: string
  /** DATABASE_SSLMODE and DATABASE_SSL_CA_FILE (default: no TLS, as for a server on this machine). */
  tls?: DatabaseTls
}

/**
 * libpq's sslmode in Node's terms. `require` encrypts without checking who answers (libpq's own
 * meaning); `verify-ca` checks the chain, `verify-full` also the host name.
 */
export function postgresTls(tls: DatabaseTls | undefined): false | ConnectionOptions {
  if (tls === undefined || tls.mode === 'disable') return false
  const ca = tls.ca === undefined ? {} : { ca: [tls.ca] }
  if (tls.mode === 'require') return { rejectUnauthorized: false }
  if (tls.mode === 'verify-ca') return { ...ca, rejectUnauthorized: true, checkServerIdentity: () => undefined }
  return { ...ca, rejectUnauthorized: true }
}

/**
 * One pool per process. `prepare: true` lets the batched statements, which have a fixed shape
 * (unnest of arrays), be parsed once per connection.
 */
export function createDb(url: string, opts: DbOptions): Sql {
  return postgres(url, {
    max: opts.max,
    prepare: true,
    ssl: postgresTls(opts.tls),
    connect_timeout: opts.connectTimeoutSeconds ?? 10,
    idle_timeout: 60,
    // Migrations use IF NOT EXISTS; the NOTICEs they raise are noise, not information.
    onnotice: () => undefined,
    connection: { application_name: opts.applicationName ?? 'genesys-whatsapp-bridge' },
    types: {
      // timestamptz (oid 1184) always comes back as a Date and Dates are sent as ISO strings,
      // so no local-time-zone interpretation sneaks in anywhere.
      timestamptz: {
        to: 1184,
        from: [1184],
        serialize: (v: Date | string) => (v instanceof Date ? v.toISOString() : v),
        parse: (v: string) => new Date(v),
      },
    },
  })
}

export async function closeDb(sql: Sql, timeoutSeconds = 5): Promise<void> {
  await sql.end({ timeout: timeoutSeconds })
}

/** A Postgres failure on a lookup is a retryable store outage, not a bad record. */
export async function fromDb<T>(what: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run()
  } catch (err) {
    if (isBridgeError(err)) throw err
    throw new BridgeError('GWB_STORE_UNAVAILABLE', `postgres lookup of ${what} failed`, { canRetry: true, cause: err })
  }
}
