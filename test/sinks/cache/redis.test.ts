import { randomBytes } from 'node:crypto'
import t from 'tap'
import { createCache, createRedis } from '../../../src/sinks/cache/redis.js'

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/0'

t.test('cache on a live Redis', async (t) => {
  const prefix = `gwb-test-${randomBytes(6).toString('hex')}:`
  const redis = createRedis(REDIS_URL)
  const cache = createCache(redis, { prefix })
  t.teardown(async () => {
    const keys = await redis.keys(`${prefix}*`)
    if (keys.length > 0) await redis.del(...keys)
    await cache.close()
    redis.disconnect()
  })
  await new Promise((resolve) => redis.once('ready', resolve))

  await cache.setJson('a', { x: 1 }, 60)
  t.same(await cache.getJson('a'), { x: 1 })
  t.ok((await redis.ttl(`${prefix}a`)) > 50, 'ttl set on the prefixed key')
  t.same(await cache.mget(['a', 'missing']), [{ x: 1 }, undefined])
  await cache.del('a')
  t.equal(await cache.getJson('a'), undefined)
  await cache.setJson('zero', 1, 0)
  t.equal(await redis.exists(`${prefix}zero`), 0, 'a non-positive ttl caches nothing')
  t.match(cache.stats(), { hits: 2, errors: 0 })

  const got = new Promise<string>((resolve) => void cache.subscribe('chan', resolve))
  // The subscription completes in the background; publish until it is heard.
  let heard: string | undefined
  void got.then((m) => (heard = m))
  for (let i = 0; i < 50 && heard === undefined; i++) {
    await cache.publish('chan', 'hello')
    await new Promise((r) => setTimeout(r, 20))
  }
  t.equal(heard, 'hello')
})

t.test('a dead Redis is a fast miss, never a throw', async (t) => {
  const redis = createRedis('redis://127.0.0.1:1')
  const warnings: object[] = []
  const cache = createCache(redis, { prefix: 'x:', logger: { warn: (o) => warnings.push(o) } })
  t.teardown(async () => {
    await cache.close()
    redis.disconnect()
  })
  const started = Date.now()
  for (let i = 0; i < 20; i++) {
    t.equal(await cache.getJson('k'), undefined)
    await cache.setJson('k', 1, 10)
    await cache.del('k')
  }
  t.same(await cache.mget(['a', 'b']), [undefined, undefined])
  await cache.publish('c', 'm')
  await cache.subscribe('c', () => undefined)
  t.ok(Date.now() - started < 5_000, 'answers without waiting for Redis')
  t.ok(cache.stats().errors >= 61)
  t.equal(warnings.length, 1, 'logged once per interval')
})
