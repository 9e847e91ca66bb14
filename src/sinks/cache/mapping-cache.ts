import { fromDb, type Sql } from '../db/client.js'
import { getByConversation, getByWa, upsertMapping, type Mapping } from '../db/mappings.js'
import { createLocalCache } from './local.js'
import type { Cache } from './redis.js'

export interface MappingResolver {
  /** The tenant's conversation: another tenant's conversation of the same id is never returned. */
  byConversation: (tenantId: string, conversationId: string) => Promise<Mapping | undefined>
  /** The customer's latest conversation in the tenant. */
  byWa: (tenantId: string, waId: string) => Promise<Mapping | undefined>
  /** Stores the mapping (race-safe) and caches both directions; returns what is stored. */
  learn: (mapping: Mapping) => Promise<Mapping>
}

export interface MappingResolverOptions {
  sql: Sql
  cache: Cache
  /** In-process TTL; bounds how long another process may use an older "latest conversation". */
  localTtlMs: number
}

export const MAPPING_TTL_SECONDS = 3600
/** Tenant ids match ^[a-z0-9-]+$, so the ':' after one cannot be forged by the id that follows it. */
export const mappingKeys = {
  conv: (tenantId: string, conversationId: string) => `mapping:conv:${tenantId}:${conversationId}`,
  wa: (tenantId: string, waId: string) => `mapping:wa:${tenantId}:${waId}`,
}

/** Only the identity fields are cached: activity times change every message and live in Postgres. */
const identity = (m: Mapping): Mapping => ({
  tenantId: m.tenantId,
  conversationId: m.conversationId,
  waId: m.waId,
  phoneNumberId: m.phoneNumberId,
})

export function createMappingResolver(opts: MappingResolverOptions): MappingResolver {
  const { sql, cache } = opts
  // No negative caching: a missing mapping may be learned any moment by another process.
  const local = createLocalCache<Mapping>({ ttlMs: opts.localTtlMs, maxEntries: 100_000 })

  const remember = async (m: Mapping): Promise<void> => {
    const convKey = mappingKeys.conv(m.tenantId, m.conversationId)
    const waKey = mappingKeys.wa(m.tenantId, m.waId)
    local.set(convKey, m)
    local.set(waKey, m)
    await Promise.all([cache.setJson(convKey, m, MAPPING_TTL_SECONDS), cache.setJson(waKey, m, MAPPING_TTL_SECONDS)])
  }

  const cacheOne = async (key: string, m: Mapping): Promise<void> => {
    local.set(key, m)
    await cache.setJson(key, m, MAPPING_TTL_SECONDS)
  }

  /**
   * Local map, then Redis, then Postgres; `onLoad` caches whatever else the Postgres answer tells us.
   * A cached entry of another tenant (a key written by an older build, or tampered) is a miss.
   */
  const lookup = async (
    key: string,
    tenantId: string,
    what: string,
    load: () => Promise<Mapping | undefined>,
    onLoad: (m: Mapping) => Promise<void>,
  ): Promise<Mapping | undefined> => {
    const hit = local.get(key)
    if (hit !== undefined) return hit
    const cached = await cache.getJson<Mapping>(key)
    if (cached !== undefined && cached.tenantId === tenantId) {
      local.set(key, cached)
      return cached
    }
    const row = await fromDb(what, load)
    if (row === undefined) return undefined
    const m = identity(row)
    await onLoad(m)
    return m
  }

  return {
    byConversation: (tenantId, conversationId) =>
      lookup(
        mappingKeys.conv(tenantId, conversationId),
        tenantId,
        `mapping of conversation ${tenantId}/${conversationId}`,
        () => getByConversation(sql, tenantId, conversationId),
        async (m) => {
          await cacheOne(mappingKeys.conv(m.tenantId, m.conversationId), m)
          // The wa direction must point at the customer's LATEST conversation, which need not be this one
          // (one extra query, on a cache miss only).
          const latest = await fromDb(`mapping of ${m.waId}`, () => getByWa(sql, m.tenantId, m.waId))
          if (latest !== undefined) await cacheOne(mappingKeys.wa(m.tenantId, m.waId), identity(latest))
        },
      ),
    byWa: (tenantId, waId) =>
      lookup(
        mappingKeys.wa(tenantId, waId),
        tenantId,
        `mapping of ${tenantId}/${waId}`,
        () => getByWa(sql, tenantId, waId),
        remember,
      ),
    async learn(mapping) {
      const stored = identity(await fromDb('mapping upsert', () => upsertMapping(sql, mapping)))
      await remember(stored)
      return stored
    },
  }
}
