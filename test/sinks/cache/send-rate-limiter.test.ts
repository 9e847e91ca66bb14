import { randomBytes } from 'node:crypto'
import t, { type Test } from 'tap'
import type { Redis } from 'ioredis'
import { createRedis } from '../../../src/sinks/cache/redis.js'
import { createSendRateLimiter } from '../../../src/sinks/cache/send-rate-limiter.js'

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/0'

/** A Redis whose every script fails, as when the server is away. */
const awayRedis = { eval: () => Promise.reject(new Error('Connection is closed.')) } as unknown as Redis

/** The machine's Redis, ready (commands are not queued while connecting), cleaned up after. */
async function liveRedis(t: Test): Promise<{ redis: Redis; prefix: string }> {
  const redis = createRedis(REDIS_URL)
  if (redis.status !== 'ready') await new Promise((r) => redis.once('ready', r))
  const prefix = `gwb-test-${randomBytes(6).toString('hex')}:`
  t.teardown(async () => {
    await redis.del(`${prefix}ratelimit:meta:pn`, `${prefix}ratelimit:meta:pn:slow`)
    await redis.quit()
  })
  return { redis, prefix }
}

t.test('sends keep the shared rate: the burst at once, then one per interval', async (t) => {
  const { redis, prefix } = await liveRedis(t)
  const limiter = createSendRateLimiter({ redis, ratePerSecond: 100, burst: 10, prefix })
  const started = Date.now()
  const at: number[] = []
  await Promise.all(Array.from({ length: 60 }, () => limiter.acquire('pn').then(() => at.push(Date.now() - started))))
  at.sort((a, b) => a - b)
  // 100/s after a burst of 10: the k-th send (from 0) no sooner than (k − 9) × 10 ms, less a
  // millisecond of clock rounding.
  const early = at.filter((ms, k) => k >= 10 && ms < (k - 9) * 10 - 1)
  t.same(early, [], 'no send ahead of the rate')
  t.ok((at[59] ?? 0) >= 490, `60 sends took ${at[59] ?? 0} ms`)
})

t.test('with Redis away the process paces itself and says so', async (t) => {
  let fallbacks = 0
  const limiter = createSendRateLimiter({
    redis: awayRedis,
    ratePerSecond: 50,
    burst: 1,
    onFallback: () => fallbacks++,
  })
  const started = Date.now()
  await Promise.all(Array.from({ length: 10 }, () => limiter.acquire('pn')))
  const elapsed = Date.now() - started
  // The local bucket starts spent (the shared one may just have given the burst): 10 sends at 50/s.
  t.ok(elapsed >= 180, `paced locally: 10 sends took ${elapsed} ms`)
  t.ok(fallbacks > 0, 'each fallback reported')
})

t.test('a 130429 halves the shared rate for a while, for every process on the number', async (t) => {
  const { redis, prefix } = await liveRedis(t)
  const a = createSendRateLimiter({ redis, ratePerSecond: 100, burst: 1, prefix })
  const b = createSendRateLimiter({ redis, ratePerSecond: 100, burst: 1, prefix })
  t.equal(await a.slowDown('pn', 60_000), 0.5)
  t.equal(await a.slowDown('pn', 60_000), 0.25, 'another 130429 in the window halves it again')
  const started = Date.now()
  for (let i = 0; i < 6; i++) await b.acquire('pn')
  const elapsed = Date.now() - started
  // 25/s: six sends one after another take at least five intervals of 40 ms.
  t.ok(elapsed >= 195, `the other process sends at the lowered rate: 6 sends in ${elapsed} ms`)
})

t.test('acquire ends at shutdown instead of waiting out the budget', async (t) => {
  const limiter = createSendRateLimiter({ redis: awayRedis, ratePerSecond: 1, burst: 1 })
  t.equal(await limiter.acquire('pn'), true, 'the first send of the second')
  const abort = new AbortController()
  setTimeout(() => abort.abort(), 20)
  const started = Date.now()
  t.equal(await limiter.acquire('pn', abort.signal), false, 'the next one would wait a second')
  t.ok(Date.now() - started < 900, 'it did not')
})
