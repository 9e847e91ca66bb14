import { fromDb, type Sql } from '../db/client.js'
import { acceptedSecrets } from '../../processors/signing-secrets.js'
import { encryptJson, openJson, type CredentialKeys } from '../db/crypto.js'
import {
  findByIntegrationId,
  findByPhoneNumberId,
  getCredentials,
  getTenant,
  listTenants,
  signingSecretsOf,
  type CredentialType,
  type CredentialsOf,
  type GenesysCredentials,
  type Tenant,
  type WhatsappCredentials,
} from '../db/tenants.js'
import { createLocalCache } from './local.js'
import type { Cache } from './redis.js'

/** What the hot path needs of a tenant; plain JSON so it round-trips through Redis unchanged. */
export type DirectoryTenant = Omit<Tenant, 'createdAt' | 'updatedAt'>

export interface GenesysToken {
  accessToken: string
  /** Epoch milliseconds. */
  expiresAt: number
}

export interface TenantDirectory {
  byIntegrationId: (integrationId: string) => Promise<DirectoryTenant | undefined>
  byPhoneNumberId: (phoneNumberId: string) => Promise<DirectoryTenant | undefined>
  whatsappCredentials: (tenantId: string) => Promise<WhatsappCredentials | undefined>
  genesysCredentials: (tenantId: string) => Promise<GenesysCredentials | undefined>
  /**
   * The verify tokens of every active tenant, for a Meta handshake that names none. Read at most
   * once a minute (and again after any invalidation): a flood of handshakes decrypts nothing.
   */
  activeVerifyTokens: () => Promise<{ tenantId: string; verifyToken: string }[]>
  /**
   * The secrets a webhook of the tenant may be signed with now (Genesys: webhook secret; whatsapp:
   * Meta app secret): the current one, and the previous one until its overlap ends. The end is
   * checked on every call, so it needs no invalidation; a rotation itself invalidates as usual.
   */
  signingSecrets: (tenantId: string, type: CredentialType) => Promise<string[] | undefined>
  /** A cached OAuth token with at least a minute left, or undefined (then fetch a new one). */
  genesysToken: (tenantId: string) => Promise<GenesysToken | undefined>
  setGenesysToken: (tenantId: string, accessToken: string, expiresAt: Date) => Promise<void>
  /**
   * Drops every cached entry of the tenant here, in Redis, and (by pub/sub) in other processes.
   * Pass the ids the tenant had before a change, so keys under an old integration or phone id go too.
   */
  invalidateTenant: (
    tenantId: string,
    previous?: { genesysIntegrationId?: string; whatsappPhoneNumberId?: string },
  ) => Promise<void>
}

export interface TenantDirectoryOptions {
  sql: Sql
  cache: Cache
  /** CREDENTIALS_KEY (and previous keys): secrets are cached in Redis encrypted, never in plain text. */
  key: CredentialKeys
  /** In-process TTL; also bounds how long another process may serve a tenant after a change. */
  localTtlMs: number
  /** Unknown ids remembered at once; kept apart from known tenants so a flood cannot evict those. */
  negativeEntries?: number
  /**
   * How long the list of active verify tokens is reused (default a minute): tenant changes clear it
   * at once in every process (the invalidation broadcast), so only a missed broadcast waits this long.
   */
  verifyTokensTtlMs?: number
  /** Told when one tenant's credentials cannot be read while listing verify tokens. */
  onUnreadable?: (tenantId: string, err: unknown) => void
  /** The clock that ends a rotation's overlap (epoch ms; Date.now unless a test drives time). */
  now?: () => number
}

export const TTL = { integration: 3600, phone: 3600, credentials: 86400, oauthMax: 3300 } as const
export const INVALIDATE_CHANNEL = 'tenant-invalidate'

export const redisKeys = {
  integration: (id: string) => `integration:${id}`,
  phone: (id: string) => `phone:${id}`,
  whatsapp: (tenantId: string) => `tenant:${tenantId}:whatsapp:token`,
  genesys: (tenantId: string) => `tenant:${tenantId}:genesys:credentials`,
  oauth: (tenantId: string) => `tenant:${tenantId}:oauth:token`,
}

interface Sealed {
  sealed: string
}

const plain = (t: Tenant): DirectoryTenant => ({
  id: t.id,
  name: t.name,
  genesysIntegrationId: t.genesysIntegrationId,
  genesysRegion: t.genesysRegion,
  whatsappPhoneNumberId: t.whatsappPhoneNumberId,
  status: t.status,
})

export function createTenantDirectory(opts: TenantDirectoryOptions): TenantDirectory {
  const { sql, cache, key } = opts
  const tenants = createLocalCache<DirectoryTenant>({ ttlMs: opts.localTtlMs })
  // Unknown ids are remembered too, in a bounded cache of their own: a flood of made-up ids then
  // costs one lookup each, and never pushes a real tenant out of the cache above.
  const absent = createLocalCache<true>({ ttlMs: opts.localTtlMs, maxEntries: opts.negativeEntries ?? 10_000 })
  const verifyTokensTtlMs = opts.verifyTokensTtlMs ?? 60_000
  let verifyTokens: { at: number; tokens: Promise<{ tenantId: string; verifyToken: string }[]> } | undefined
  const secrets = createLocalCache<unknown>({ ttlMs: opts.localTtlMs })
  const tokens = createLocalCache<GenesysToken>({ ttlMs: opts.localTtlMs })
  // Single flight: concurrent misses of one key share one Redis/Postgres lookup.
  const inFlight = new Map<string, Promise<unknown>>()
  const once = <T>(id: string, run: () => Promise<T>): Promise<T> => {
    const running = inFlight.get(id)
    if (running !== undefined) return running as Promise<T>
    const p = run().finally(() => inFlight.delete(id))
    inFlight.set(id, p)
    return p
  }

  const seal = (aad: string, value: unknown): Sealed => ({ sealed: encryptJson(key, aad, value).toString('base64') })
  const unseal = (aad: string, s: Sealed | undefined): unknown => {
    if (s === undefined || typeof s.sealed !== 'string') return undefined
    // Written under a key no longer configured, or corrupted: a miss, refilled from Postgres.
    const opened = openJson(key, aad, Buffer.from(s.sealed, 'base64'))
    return opened.ok ? opened.value : undefined
  }

  const dropLocal = (tenantId: string): void => {
    tenants.deleteWhere((_k, v) => v.id === tenantId)
    // The tenant may now own an id remembered as unknown, and its verify token may have changed.
    absent.clear()
    verifyTokens = undefined
    secrets.deleteWhere((k) => k.startsWith(`${tenantId}:`))
    tokens.delete(tenantId)
  }
  void cache.subscribe(INVALIDATE_CHANNEL, dropLocal)

  const tenantBy = (
    kind: 'integration' | 'phone',
    id: string,
    load: (sql: Sql, id: string) => Promise<Tenant | undefined>,
  ): Promise<DirectoryTenant | undefined> => {
    const localKey = `${kind}:${id}`
    const local = tenants.get(localKey)
    if (local !== undefined || absent.has(localKey)) return Promise.resolve(local)
    return once(localKey, async () => {
      const redisKey = redisKeys[kind](id)
      const cached = await cache.getJson<DirectoryTenant>(redisKey)
      if (cached !== undefined) {
        tenants.set(localKey, cached)
        return cached
      }
      const row = await fromDb(`tenant by ${kind} ${id}`, () => load(sql, id))
      if (row === undefined) {
        absent.set(localKey, true)
        return undefined
      }
      const value = plain(row)
      tenants.set(localKey, value)
      await cache.setJson(redisKey, value, TTL[kind])
      return value
    })
  }

  const credentials = <T extends CredentialType>(
    tenantId: string,
    type: T,
    redisKey: string,
  ): Promise<CredentialsOf[T] | undefined> => {
    const localKey = `${tenantId}:${type}`
    const local = secrets.get(localKey)
    if (local !== undefined) return Promise.resolve(local as CredentialsOf[T])
    return once(`cred:${localKey}`, async () => {
      const aad = `cache:${tenantId}:${type}`
      const cached = unseal(aad, await cache.getJson<Sealed>(redisKey)) as CredentialsOf[T] | undefined
      if (cached !== undefined) {
        secrets.set(localKey, cached)
        return cached
      }
      const value = await fromDb(`${type} credentials of ${tenantId}`, () => getCredentials(sql, key, tenantId, type))
      if (value === undefined) return undefined
      secrets.set(localKey, value)
      await cache.setJson(redisKey, seal(aad, value), TTL.credentials)
      return value
    })
  }

  const now = opts.now ?? Date.now
  const fresh = (t: GenesysToken | undefined): GenesysToken | undefined =>
    t !== undefined && t.expiresAt - Date.now() > 60_000 ? t : undefined

  const loadVerifyTokens = async (): Promise<{ tenantId: string; verifyToken: string }[]> => {
    const active = (await fromDb('tenant list', () => listTenants(sql))).filter((x) => x.status === 'active')
    // One tenant with unreadable credentials must not stop every other tenant's handshake.
    const creds = await Promise.allSettled(active.map((x) => credentials(x.id, 'whatsapp', redisKeys.whatsapp(x.id))))
    return creds.flatMap((c, i) => {
      const tenantId = active[i]?.id ?? ''
      if (c.status === 'fulfilled') return c.value === undefined ? [] : [{ tenantId, verifyToken: c.value.verifyToken }]
      opts.onUnreadable?.(tenantId, c.reason)
      return []
    })
  }

  return {
    activeVerifyTokens() {
      if (verifyTokens === undefined || Date.now() - verifyTokens.at >= verifyTokensTtlMs) {
        const tokens = loadVerifyTokens()
        const entry = { at: Date.now(), tokens }
        verifyTokens = entry
        // A failed read is not remembered: the next handshake tries again.
        tokens.catch(() => {
          if (verifyTokens === entry) verifyTokens = undefined
        })
      }
      return verifyTokens.tokens
    },
    byIntegrationId: (id) => tenantBy('integration', id, findByIntegrationId),
    byPhoneNumberId: (id) => tenantBy('phone', id, findByPhoneNumberId),
    whatsappCredentials: (tenantId) => credentials(tenantId, 'whatsapp', redisKeys.whatsapp(tenantId)),
    genesysCredentials: (tenantId) => credentials(tenantId, 'genesys', redisKeys.genesys(tenantId)),
    async signingSecrets(tenantId, type) {
      const creds = await (type === 'genesys'
        ? credentials(tenantId, 'genesys', redisKeys.genesys(tenantId))
        : credentials(tenantId, 'whatsapp', redisKeys.whatsapp(tenantId)))
      if (creds === undefined) return undefined
      const { secret, previous } = signingSecretsOf(type, creds)
      return acceptedSecrets(secret, previous, now())
    },

    async genesysToken(tenantId) {
      const local = fresh(tokens.get(tenantId))
      if (local !== undefined) return local
      const t = fresh(
        unseal(`cache:${tenantId}:oauth`, await cache.getJson<Sealed>(redisKeys.oauth(tenantId))) as
          GenesysToken | undefined,
      )
      if (t !== undefined) tokens.set(tenantId, t, Math.min(opts.localTtlMs, t.expiresAt - Date.now() - 60_000))
      return t
    },

    async setGenesysToken(tenantId, accessToken, expiresAt) {
      const token: GenesysToken = { accessToken, expiresAt: expiresAt.getTime() }
      // Keep it a minute less than the token lives, and never longer than 55 minutes.
      const ttlSeconds = Math.min(TTL.oauthMax, Math.floor((token.expiresAt - Date.now()) / 1000) - 60)
      if (ttlSeconds <= 0) return
      tokens.set(tenantId, token, Math.min(opts.localTtlMs, ttlSeconds * 1000))
      await cache.setJson(redisKeys.oauth(tenantId), seal(`cache:${tenantId}:oauth`, token), ttlSeconds)
    },

    async invalidateTenant(tenantId, previous) {
      dropLocal(tenantId)
      const current = await fromDb(`tenant ${tenantId}`, () => getTenant(sql, tenantId))
      const integrationIds = new Set([current?.genesysIntegrationId, previous?.genesysIntegrationId])
      const phoneIds = new Set([current?.whatsappPhoneNumberId, previous?.whatsappPhoneNumberId])
      const keys = [redisKeys.whatsapp(tenantId), redisKeys.genesys(tenantId), redisKeys.oauth(tenantId)]
      for (const id of integrationIds) if (id !== undefined) keys.push(redisKeys.integration(id))
      for (const id of phoneIds) if (id !== undefined) keys.push(redisKeys.phone(id))
      await cache.del(...keys)
      await cache.publish(INVALIDATE_CHANNEL, tenantId)
    },
  }
}
