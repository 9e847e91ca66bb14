/**
 * The directory's negative cache and verify-token cache (issue 11): a flood of unknown ids costs
 * one lookup per id and never pushes a known tenant out of the cache; the handshake's token list
 * is read once per TTL, not per request; a new tenant is found at once despite the negative cache.
 */
import { randomBytes } from 'node:crypto'
import t from 'tap'
import type { TenantSpec } from '../../../src/processors/tenant-spec.js'
import { createTenantDirectory } from '../../../src/sinks/cache/directory.js'
import { createCache, createRedis, type Cache } from '../../../src/sinks/cache/redis.js'
import { upsertTenant } from '../../../src/sinks/db/tenants.js'
import { createTestDb } from '../../helpers/db.js'

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/0'
const key = randomBytes(32)
const spec = (n: number): TenantSpec => ({
  id: `neg-${n}`,
  name: `Neg ${n}`,
  status: 'active',
  genesys: {
    integrationId: `neg-int-${n}`,
    region: 'mypurecloud.ie',
    clientId: 'cid',
    clientSecret: 'client-secret-xxxxxxxx',
    webhookSecret: 'webhook-secret-xxxxxxxx',
  },
  whatsapp: {
    phoneNumberId: `30000000000000${n}`,
    businessAccountId: '200000000000001',
    accessToken: 'token',
    appSecret: 'app-secret',
    verifyToken: `verify-${n}`,
  },
})

/** A Cache that counts reads: every read is a lookup the local caches did not answer. */
function counting(inner: Cache): Cache & { reads: () => number } {
  let reads = 0
  return {
    ...inner,
    getJson: (k) => {
      reads++
      return inner.getJson(k)
    },
    reads: () => reads,
  }
}

t.test('negative and verify-token caches', async (t) => {
  const db = await createTestDb()
  const prefix = `gwb-test-${randomBytes(6).toString('hex')}:`
  const redis = createRedis(REDIS_URL)
  const cache = counting(createCache(redis, { prefix }))
  t.teardown(async () => {
    const keys = await redis.keys(`${prefix}*`)
    if (keys.length > 0) await redis.del(...keys)
    await cache.close()
    redis.disconnect()
    await db.drop()
  })
  await upsertTenant(db.sql, key, spec(1))
  const dir = createTenantDirectory({ sql: db.sql, cache, key, localTtlMs: 60_000, negativeEntries: 500 })

  t.equal((await dir.byIntegrationId('neg-int-1'))?.id, 'neg-1')
  t.equal(await dir.byIntegrationId('nobody'), undefined)
  const reads = cache.reads()
  t.equal(await dir.byIntegrationId('nobody'), undefined)
  t.equal(cache.reads(), reads, 'an unknown id asked again costs no lookup')

  // More made-up ids than either cache holds.
  for (let i = 0; i < 12_000; i += 500) {
    await Promise.all(Array.from({ length: 500 }, (_, j) => dir.byIntegrationId(`flood-${i + j}`)))
  }
  const afterFlood = cache.reads()
  t.equal((await dir.byIntegrationId('neg-int-1'))?.id, 'neg-1')
  t.equal(cache.reads(), afterFlood, 'the known tenant is still cached locally after the flood')

  t.equal(await dir.byIntegrationId('neg-int-2'), undefined, 'not configured yet')
  await upsertTenant(db.sql, key, spec(2))
  t.equal(await dir.byIntegrationId('neg-int-2'), undefined, 'configured meanwhile: still remembered as absent')
  await dir.invalidateTenant('neg-2')
  t.equal((await dir.byIntegrationId('neg-int-2'))?.id, 'neg-2', 'found once the tenant change is announced')

  const tokens = await dir.activeVerifyTokens()
  t.same(tokens.map((x) => x.verifyToken).sort(), ['verify-1', 'verify-2'])
  const before = cache.reads()
  const again = await Promise.all(Array.from({ length: 50 }, () => dir.activeVerifyTokens()))
  t.ok(
    again.every((x) => x.length === 2),
    'the same list',
  )
  t.equal(cache.reads(), before, '50 handshakes read no credentials')
})
