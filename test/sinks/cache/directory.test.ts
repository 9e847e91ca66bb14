import { randomBytes } from 'node:crypto'
import t from 'tap'
import type { TenantSpec } from '../../../src/processors/tenant-spec.js'
import { createTenantDirectory, redisKeys } from '../../../src/sinks/cache/directory.js'
import { createCache, createRedis } from '../../../src/sinks/cache/redis.js'
import { rotateCredentials, upsertTenant } from '../../../src/sinks/db/tenants.js'
import { createTestDb } from '../../helpers/db.js'

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/0'
const key = randomBytes(32)
const spec: TenantSpec = {
  id: 'acme',
  name: 'Acme',
  status: 'active',
  genesys: {
    integrationId: 'acme-int',
    region: 'mypurecloud.ie',
    clientId: 'cid',
    clientSecret: 'GENESYS-SECRET-plaintext',
    webhookSecret: 'WEBHOOK-SECRET-plaintext',
  },
  whatsapp: {
    phoneNumberId: '100000000000001',
    businessAccountId: '200000000000001',
    accessToken: 'ACCESS-TOKEN-plaintext',
    appSecret: 'APP-SECRET-plaintext',
    verifyToken: 'VERIFY-plaintext',
  },
}

t.test('directory with Redis up', async (t) => {
  const db = await createTestDb()
  const prefix = `gwb-test-${randomBytes(6).toString('hex')}:`
  const redis = createRedis(REDIS_URL)
  const cacheA = createCache(redis, { prefix })
  const cacheB = createCache(redis, { prefix })
  t.teardown(async () => {
    const keys = await redis.keys(`${prefix}*`)
    if (keys.length > 0) await redis.del(...keys)
    await cacheA.close()
    await cacheB.close()
    redis.disconnect()
    await db.drop()
  })
  await new Promise((resolve) => redis.once('ready', resolve))
  await upsertTenant(db.sql, key, spec)
  const a = createTenantDirectory({ sql: db.sql, cache: cacheA, key, localTtlMs: 60_000 })
  const b = createTenantDirectory({ sql: db.sql, cache: cacheB, key, localTtlMs: 60_000 })

  const tenant = await a.byIntegrationId('acme-int')
  t.match(tenant, { id: 'acme', status: 'active', whatsappPhoneNumberId: '100000000000001' })
  t.ok((await redis.ttl(`${prefix}${redisKeys.integration('acme-int')}`)) > 3500)
  t.equal((await a.byPhoneNumberId('100000000000001'))?.id, 'acme')
  t.equal(await a.byIntegrationId('unknown'), undefined)

  t.same(await a.whatsappCredentials('acme'), spec.whatsapp)
  t.equal((await a.genesysCredentials('acme'))?.webhookSecret, spec.genesys.webhookSecret)
  const raw = await redis.get(`${prefix}${redisKeys.whatsapp('acme')}`)
  t.ok(raw !== null && raw.length > 0, 'credentials cached in Redis')
  t.notOk(raw?.includes('plaintext'), 'cached credentials are not plain text')
  t.ok((await redis.ttl(`${prefix}${redisKeys.whatsapp('acme')}`)) > 86000)
  t.same(await b.whatsappCredentials('acme'), spec.whatsapp, 'another process decrypts the cached copy')

  t.test('oauth token cached with a ttl under its expiry', async (t) => {
    t.equal(await a.genesysToken('acme'), undefined)
    await a.setGenesysToken('acme', 'tok-1', new Date(Date.now() + 600_000))
    const ttl = await redis.ttl(`${prefix}${redisKeys.oauth('acme')}`)
    t.ok(ttl > 500 && ttl <= 540, `ttl ${ttl} = expires_in - 60`)
    t.equal((await b.genesysToken('acme'))?.accessToken, 'tok-1')
    t.notOk((await redis.get(`${prefix}${redisKeys.oauth('acme')}`))?.includes('tok-1'))
    await a.setGenesysToken('acme', 'tok-2', new Date(Date.now() + 86_400_000))
    t.ok((await redis.ttl(`${prefix}${redisKeys.oauth('acme')}`)) <= 3300)
    await a.setGenesysToken('other', 'tok-x', new Date(Date.now() + 30_000))
    t.equal(await a.genesysToken('other'), undefined, 'a token about to expire is not cached')
  })

  t.test('invalidation reaches Redis and the other process', async (t) => {
    t.equal((await b.whatsappCredentials('acme'))?.accessToken, spec.whatsapp.accessToken)
    await rotateCredentials(db.sql, key, 'acme', 'whatsapp', { accessToken: 'ROTATED-plaintext' })
    // Wait for b's subscription to be live, then invalidate from a.
    for (let i = 0; i < 100; i++) {
      await a.invalidateTenant('acme')
      await new Promise((r) => setTimeout(r, 20))
      if ((await b.whatsappCredentials('acme'))?.accessToken === 'ROTATED-plaintext') break
    }
    t.equal((await b.whatsappCredentials('acme'))?.accessToken, 'ROTATED-plaintext')
    t.equal((await a.whatsappCredentials('acme'))?.accessToken, 'ROTATED-plaintext')
  })

  t.test('signing secrets: the previous one only until its overlap ends, by the directory clock', async (t) => {
    let now = Date.now()
    const c = createTenantDirectory({ sql: db.sql, cache: cacheB, key, localTtlMs: 60_000, now: () => now })
    const next = 'WEBHOOK-v2-plaintext'
    await rotateCredentials(db.sql, key, 'acme', 'genesys', { webhookSecret: next }, { overlapMs: 1000, nowMs: now })
    await a.invalidateTenant('acme')
    t.same(await c.signingSecrets('acme', 'genesys'), [next, spec.genesys.webhookSecret])
    now += 999
    t.same(await c.signingSecrets('acme', 'genesys'), [next, spec.genesys.webhookSecret])
    now += 1
    t.same(await c.signingSecrets('acme', 'genesys'), [next], 'ended, though the credentials are cached')
    t.same(await c.signingSecrets('acme', 'whatsapp'), [spec.whatsapp.appSecret], 'no rotation, one secret')
    t.equal(await c.signingSecrets('ghost', 'genesys'), undefined)
  })
})

t.test('directory with Redis down serves from Postgres', async (t) => {
  const db = await createTestDb()
  const redis = createRedis('redis://127.0.0.1:1')
  const cache = createCache(redis, { prefix: 'dead:' })
  t.teardown(async () => {
    await cache.close()
    redis.disconnect()
    await db.drop()
  })
  await upsertTenant(db.sql, key, spec)
  const dir = createTenantDirectory({ sql: db.sql, cache, key, localTtlMs: 0 })
  const run = async () => {
    t.equal((await dir.byIntegrationId('acme-int'))?.id, 'acme')
    t.equal((await dir.byPhoneNumberId('100000000000001'))?.id, 'acme')
    t.same(await dir.whatsappCredentials('acme'), spec.whatsapp)
    t.equal((await dir.genesysCredentials('acme'))?.clientSecret, spec.genesys.clientSecret)
    await dir.setGenesysToken('acme', 't', new Date(Date.now() + 600_000))
    t.equal(await dir.genesysToken('acme'), undefined, 'no token without a cache: fetch a new one')
    await dir.invalidateTenant('acme')
  }
  const bound = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 10_000).unref())
  t.not(await Promise.race([run().then(() => 'done'), bound]), 'timeout', 'answers well within the bound')
})
