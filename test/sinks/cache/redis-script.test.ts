import { randomBytes } from 'node:crypto'
import t, { type Test } from 'tap'
import type { Redis } from 'ioredis'
import { createRedis } from '../../../src/sinks/cache/redis.js'
import { redisScript } from '../../../src/sinks/cache/redis-script.js'
import { createSendRateLimiter } from '../../../src/sinks/cache/send-rate-limiter.js'

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/0'

/** The machine's Redis, ready, with every byte written to its socket recorded. */
async function tappedRedis(t: Test): Promise<{ redis: Redis; prefix: string; written: () => string }> {
  const redis = createRedis(REDIS_URL)
  if (redis.status !== 'ready') await new Promise((r) => redis.once('ready', r))
  const prefix = `gwb-test-${randomBytes(6).toString('hex')}:`
  const chunks: string[] = []
  const socket = redis.stream
  const write = socket.write.bind(socket) as (chunk: unknown, ...rest: unknown[]) => boolean
  socket.write = ((chunk: unknown, ...rest: unknown[]) => {
    chunks.push(String(chunk))
    return write(chunk, ...rest)
  }) as typeof socket.write
  t.teardown(async () => {
    await redis.del(`${prefix}ratelimit:meta:pn`, `${prefix}k`)
    await redis.quit()
  })
  return { redis, prefix, written: () => chunks.join('') }
}

const occurrences = (text: string, part: string): number => text.split(part).length - 1

t.test('the send budget script crosses the wire once per connection, then only its hash', async (t) => {
  const { redis, prefix, written } = await tappedRedis(t)
  const limiter = createSendRateLimiter({ redis, ratePerSecond: 1000, burst: 100, prefix })
  for (let i = 0; i < 5; i++) await limiter.acquire('pn')
  const wire = written()
  t.ok(occurrences(wire, "redis.call('TIME')") <= 1, 'the script body is sent at most once (EVAL after NOSCRIPT)')
  t.equal(occurrences(wire.toLowerCase(), 'evalsha'), 5, 'each send names it by its SHA1 (EVALSHA)')
  t.equal(Number(await redis.pttl(`${prefix}ratelimit:meta:pn`)) > 0, true, 'the budget key is kept in Redis')
})

t.test('a defined script returns what the Lua returns, keys and arguments in EVAL order', async (t) => {
  const { redis, prefix } = await tappedRedis(t)
  // A script of its own (random comment): a server that has never seen it answers NOSCRIPT to a bare EVALSHA.
  const lua = `-- ${randomBytes(8).toString('hex')}\nredis.call('SET', KEYS[1], ARGV[1]) return redis.call('GET', KEYS[1]) .. ARGV[2]`
  const run = redisScript(redis, lua)
  t.equal(await run(1, `${prefix}k`, 'a', 'b'), 'ab')
  t.equal(await run(1, `${prefix}k`, 'c', 'd'), 'cd', 'again, by hash')
})

t.test("an error other than NOSCRIPT is the caller's to handle", async (t) => {
  const away = { evalsha: () => Promise.reject(new Error('Connection is closed.')) } as unknown as Redis
  await t.rejects(redisScript(away, 'return 1')(0), { message: 'Connection is closed.' })
})
