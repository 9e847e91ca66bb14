import t from 'tap'
import { Redis } from 'ioredis'
import { startHarness } from '../helpers/bridge-harness.js'
import { privateRedis } from '../helpers/private-servers.js'
import { checkDelivery, startTraffic } from '../helpers/fault-traffic.js'

t.test('Redis killed: the flow goes on from PostgreSQL and the cache fills again once Redis is back', async (t) => {
  const redis = await privateRedis()
  t.teardown(() => redis.close())
  await redis.start()
  const h = await startHarness({ REDIS_URL: redis.endpoint })
  t.teardown(() => h.close())
  const probe = new Redis(redis.endpoint, { lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false })
  probe.on('error', () => undefined)
  t.teardown(() => probe.disconnect())

  const tr = startTraffic(h, { conversations: 20, perConversation: 20, pauseMs: 100, waPrefix: '44782' })
  await h.meta.waitForCount(60, tr.mine, 30_000)
  await probe.connect()
  const keysBefore = (await probe.keys('*')).length
  await redis.stop('kill')
  const sentAtKill = h.meta.received.filter(tr.mine).length
  await new Promise((r) => setTimeout(r, 8000))
  const sentWhileDown = h.meta.received.filter(tr.mine).length - sentAtKill
  // A fresh Redis: empty, as after a crash of a cache without persistence.
  await redis.start()

  const counts = await checkDelivery(t, h, tr, 60_000)
  t.ok(keysBefore > 0, `the cache was in use before (${keysBefore} keys)`)
  t.ok(sentWhileDown > 0, `${sentWhileDown} messages sent while Redis was down`)
  t.equal(tr.stats.refused503 + tr.stats.refusedOther + tr.stats.noAnswer, 0, 'ingest never refused a webhook')

  // New conversations after the restart: their mappings are cached again.
  const after = startTraffic(h, { conversations: 5, perConversation: 2, pauseMs: 0, waPrefix: '44783' })
  await after.done
  await h.meta.waitForCount(after.total, after.mine, 30_000)
  let keysAfter: string[] = []
  for (let i = 0; i < 40; i++) {
    keysAfter = await probe.keys('mapping:conv:*').catch(() => [])
    if (keysAfter.length >= 5) break
    await new Promise((r) => setTimeout(r, 250))
  }
  t.ok(keysAfter.length >= 5, `mappings cached again after the restart (${keysAfter.length} mapping keys)`)
  t.comment(`sent at kill ${sentAtKill}, while down ${sentWhileDown}; ${JSON.stringify(counts)}`)
})
