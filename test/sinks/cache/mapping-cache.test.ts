import { randomBytes } from 'node:crypto'
import t from 'tap'
import { createMappingResolver, mappingKeys } from '../../../src/sinks/cache/mapping-cache.js'
import { createCache, createRedis } from '../../../src/sinks/cache/redis.js'
import type { Sql } from '../../../src/sinks/db/client.js'
import { upsertMapping } from '../../../src/sinks/db/mappings.js'
import { upsertTenant } from '../../../src/sinks/db/tenants.js'
import { createTestDb } from '../../helpers/db.js'

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/0'

async function seed(sql: Sql): Promise<void> {
  for (const [id, phone] of [
    ['acme', '1'],
    ['beta', '2'],
  ] as const) {
    await upsertTenant(sql, randomBytes(32), {
      id,
      name: id,
      status: 'active',
      genesys: {
        integrationId: `i-${id}`,
        region: 'mypurecloud.ie',
        clientId: 'c',
        clientSecret: 's',
        webhookSecret: 'w'.repeat(16),
      },
      whatsapp: { phoneNumberId: phone, businessAccountId: '2', accessToken: 't', appSecret: 'a', verifyToken: 'v' },
    })
  }
}

t.test('mapping resolver with Redis up', async (t) => {
  const db = await createTestDb()
  const prefix = `gwb-test-${randomBytes(6).toString('hex')}:`
  const redis = createRedis(REDIS_URL)
  const cache = createCache(redis, { prefix })
  t.teardown(async () => {
    const keys = await redis.keys(`${prefix}*`)
    if (keys.length > 0) await redis.del(...keys)
    redis.disconnect()
    await db.drop()
  })
  await new Promise((resolve) => redis.once('ready', resolve))
  await seed(db.sql)
  const resolver = createMappingResolver({ sql: db.sql, cache, localTtlMs: 60_000 })

  const m = { tenantId: 'acme', conversationId: 'conv-1', waId: '353100', phoneNumberId: '1' }
  t.same(await resolver.learn(m), m)
  t.same(JSON.parse((await redis.get(`${prefix}${mappingKeys.conv('acme', 'conv-1')}`)) ?? 'null'), m)
  t.same(JSON.parse((await redis.get(`${prefix}${mappingKeys.wa('acme', '353100')}`)) ?? 'null'), m)
  t.ok((await redis.ttl(`${prefix}${mappingKeys.conv('acme', 'conv-1')}`)) > 3500)

  // A cold process (empty local map, empty Redis) resolves from Postgres and caches both directions.
  await redis.del(`${prefix}${mappingKeys.conv('acme', 'conv-1')}`, `${prefix}${mappingKeys.wa('acme', '353100')}`)
  await upsertMapping(db.sql, { ...m, conversationId: 'conv-0' }, new Date('2020-01-01T00:00:00Z'))
  const cold = createMappingResolver({ sql: db.sql, cache, localTtlMs: 60_000 })
  t.same(await cold.byConversation('acme', 'conv-0'), { ...m, conversationId: 'conv-0' })
  t.equal(
    JSON.parse((await redis.get(`${prefix}${mappingKeys.wa('acme', '353100')}`)) ?? 'null')?.conversationId,
    'conv-1',
    'the wa direction points at the latest conversation, not the one looked up',
  )
  t.same(await cold.byWa('acme', '353100'), m)
  t.equal(await cold.byWa('acme', 'nobody'), undefined)
  t.equal(await cold.byConversation('acme', 'nope'), undefined)

  t.test('the same conversation id in another tenant is another key and another customer', async (t) => {
    const b = { tenantId: 'beta', conversationId: 'conv-1', waId: '353200', phoneNumberId: '2' }
    t.same(await resolver.learn(b), b, "beta's conversation is stored, not answered with acme's")
    t.same(await resolver.byConversation('beta', 'conv-1'), b)
    t.same(await resolver.byConversation('acme', 'conv-1'), m, "acme's is untouched in this process")
    t.same(JSON.parse((await redis.get(`${prefix}mapping:conv:beta:conv-1`)) ?? 'null'), b)
    const fresh = createMappingResolver({ sql: db.sql, cache, localTtlMs: 60_000 })
    t.same(await fresh.byConversation('acme', 'conv-1'), m, 'and in a process that reads Redis')
    t.same(JSON.parse((await redis.get(`${prefix}mapping:conv:acme:conv-1`)) ?? 'null'), m)
    t.same(await fresh.byConversation('beta', 'conv-1'), b)
    t.equal(await fresh.byConversation('beta', 'conv-0'), undefined, "acme's conv-0 is not beta's")
  })

  t.test("a Redis entry naming another tenant is a miss, answered from the tenant's own row", async (t) => {
    await redis.set(`${prefix}${mappingKeys.conv('acme', 'conv-0')}`, JSON.stringify({ ...m, tenantId: 'beta' }))
    const fresh = createMappingResolver({ sql: db.sql, cache, localTtlMs: 60_000 })
    t.same(await fresh.byConversation('acme', 'conv-0'), { ...m, conversationId: 'conv-0' })
  })
})

t.test('mapping resolver with Redis down serves from Postgres', async (t) => {
  const db = await createTestDb()
  const redis = createRedis('redis://127.0.0.1:1')
  const cache = createCache(redis, { prefix: 'dead:' })
  t.teardown(async () => {
    redis.disconnect()
    await db.drop()
  })
  await seed(db.sql)
  const resolver = createMappingResolver({ sql: db.sql, cache, localTtlMs: 0 })
  const m = { tenantId: 'acme', conversationId: 'conv-9', waId: '353999', phoneNumberId: '1' }
  const run = async () => {
    t.same(await resolver.learn(m), m)
    t.same(await resolver.byConversation('acme', 'conv-9'), m)
    t.same(await resolver.byWa('acme', '353999'), m)
  }
  const bound = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 10_000).unref())
  t.not(await Promise.race([run().then(() => 'done'), bound]), 'timeout')
})
