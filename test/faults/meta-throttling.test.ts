import t from 'tap'
import { startHarness } from '../helpers/bridge-harness.js'
import { checkDelivery, startTraffic } from '../helpers/fault-traffic.js'
import { topicSize } from '../helpers/topic-reader.js'

/**
 * Meta throttling keeps messages and order: retries are bounded by time (RETRY_MAX_DURATION_MS,
 * minutes), not by three attempts, and a conversation waits behind its throttled message. The storm
 * length is the 30 s; GWB_TEST_STORM_MS shortens it without changing what is asserted.
 */
const stormMs = Number(process.env['GWB_TEST_STORM_MS'] ?? 30_000)

t.test('Meta throttling', async (t) => {
  // The pair wait is capped at 8 s here (default 5 min) so three 131056 in a row take ~22 s.
  const h = await startHarness({ META_PAIR_RETRY_MAX_MS: '8000' })
  t.teardown(() => h.close())
  const dlq = `${h.config.kafka.topics.genesysOutbound}.dlq`

  t.test(`a ${stormMs / 1000} s storm of 130429: all delivered, in order, none dead-lettered`, async (t) => {
    const throttled = (r: { error?: { code?: number } }) => r.error?.code === 130429
    let added = 0
    const started = Date.now()
    // Every send during the storm is answered 130429: the queue is kept a few faults ahead.
    const storm = setInterval(() => {
      if (Date.now() - started > stormMs) return clearInterval(storm)
      const pending = added - h.meta.received.filter(throttled).length
      if (pending < 5) {
        h.meta.failNext(5, { metaCode: 130429 })
        added += 5
      }
    }, 20)
    t.teardown(() => clearInterval(storm))
    const tr = startTraffic(h, { conversations: 10, perConversation: 10, pauseMs: 200, waPrefix: '44789' })
    await checkDelivery(t, h, tr, stormMs + 60_000)
    const refused = h.meta.received.filter(throttled)
    t.ok(refused.length >= 50, `the storm answered ${refused.length} sends with 130429`)
    const lastRefused = Math.max(...refused.map((r) => r.arrivedAt))
    t.ok(lastRefused - started >= stormMs - 1000, `it lasted ${Math.round((lastRefused - started) / 1000)} s`)
    t.equal(await topicSize(h.bridge.resources.kafka, dlq).catch(() => 0), 0, 'nothing dead-lettered')
    const share = await h.bridge.resources.redis.get(`ratelimit:meta:${h.tenant.whatsapp.phoneNumberId}:slow`)
    t.ok(Number(share) > 0 && Number(share) < 1, `the number's shared rate was lowered (share ${share})`)
  })

  t.test('three 131056 in a row for one customer: that conversation waits and stays in order', async (t) => {
    const throttledTo = '447890000003'
    h.meta.failNext(3, { metaCode: 131056 }, { to: throttledTo })
    const tr = startTraffic(h, { conversations: 5, perConversation: 6, pauseMs: 0, waPrefix: '44789' })
    await checkDelivery(t, h, tr, 90_000)
    const mine = h.meta.received.filter((r) => r.raw.includes(tr.run))
    t.equal(mine.filter((r) => r.error?.code === 131056).length, 3, 'the pair limit answered three times')
    t.equal(await topicSize(h.bridge.resources.kafka, dlq).catch(() => 0), 0, 'nothing dead-lettered')
  })
})
