import t from 'tap'
import { randomBytes } from 'node:crypto'
import type { GenesysReceived } from '../../src/fakes/fake-genesys.js'
import { inboundText, newWamid } from '../../src/fakes/meta-webhooks.js'
import { startHarness } from '../helpers/bridge-harness.js'
import { checkDelivery, startTraffic } from '../helpers/fault-traffic.js'

/**
 * Storms of platform errors on the shared stack. MAX_ATTEMPTS is raised from 3 to 8 so that a
 * message hit by several faults of the storm in a row is retried rather than dead-lettered.
 */
t.test('Meta and Genesys error storms', async (t) => {
  const h = await startHarness({ MAX_ATTEMPTS: '8', RETRY_BASE_MS: '50', RETRY_MAX_MS: '400' })
  t.teardown(() => h.close())

  t.test('60 answers of 130429 and 5xx: backed off, every message sent once and in order', async (t) => {
    h.meta.failNext(30, { metaCode: 130429 })
    h.meta.failNext(15, { status: 500 })
    h.meta.failNext(15, { status: 503 })
    const tr = startTraffic(h, { conversations: 10, perConversation: 10, pauseMs: 0, waPrefix: '44787' })
    await checkDelivery(t, h, tr, 60_000)
    const errors = h.meta.received.filter((r) => r.raw.includes(tr.run) && r.status !== 200)
    t.equal(errors.length, 60, 'the whole storm was answered')
    // Each refused try is followed by the same message again, no sooner than the jittered base delay.
    let tooSoon = 0
    for (const e of errors) {
      const next = h.meta.received.find((r) => r.seq > e.seq && r.raw === e.raw)
      if (next === undefined || next.arrivedAt - e.arrivedAt < 25) tooSoon++
    }
    t.equal(tooSoon, 0, 'every refused send retried after a backoff')
  })

  t.test('131056 throttles only that recipient; other customers do not wait', async (t) => {
    const throttled = '447880000000'
    h.meta.failNext(1, { metaCode: 131056 }, { to: throttled })
    const tr = startTraffic(h, { conversations: 10, perConversation: 5, pauseMs: 0, waPrefix: '44788' })
    await checkDelivery(t, h, tr, 60_000)
    const mine = h.meta.received.filter((r) => r.raw.includes(tr.run))
    const refused = mine.find((r) => r.status !== 200)
    const toThrottled = mine.filter((r) => r.status === 200 && (r.body as { to: string }).to === throttled)
    const others = mine.filter((r) => r.status === 200 && (r.body as { to: string }).to !== throttled)
    t.equal(refused?.error?.code, 131056, 'the pair limit was hit once')
    const firstThrottledOk = toThrottled[0]?.arrivedAt ?? 0
    const lastOther = Math.max(...others.map((r) => r.arrivedAt))
    t.ok(
      firstThrottledOk - (refused?.arrivedAt ?? 0) >= 6000,
      `the throttled recipient waited ${Math.round(firstThrottledOk - (refused?.arrivedAt ?? 0))} ms (pair interval 6 s)`,
    )
    t.ok(lastOther < firstThrottledOk, 'all other customers were served while that one waited')
    t.comment(`others done ${Math.round(lastOther - (refused?.arrivedAt ?? 0))} ms after the 131056`)
  })

  t.test('Genesys 429 with Retry-After: 1 on 10 inbound messages: retried no sooner, each posted once', async (t) => {
    const integrationId = h.tenant.genesys.integrationId
    h.genesys.failNext(10, { status: 429, retryAfterSeconds: 1 }, { kind: 'message', integrationId })
    const wamids = Array.from({ length: 10 }, () => newWamid())
    const res = await h.postMeta(
      h.meta.buildWebhook({
        phoneNumberId: h.tenant.whatsapp.phoneNumberId,
        messages: wamids.map((id) =>
          inboundText({ from: `4479${String(randomBytes(4).readUInt32BE(0)).padStart(10, '0')}`, id, body: 'hi' }),
        ),
      }),
    )
    t.equal(res.status, 200)
    const idOf = (r: GenesysReceived): string | undefined =>
      (r.body as { channel?: { messageId?: string } }).channel?.messageId
    const want = new Set(wamids)
    await h.genesys.waitForCount(10, (r) => r.kind === 'message' && r.status === 200 && want.has(idOf(r) ?? ''), 30_000)
    await new Promise((r) => setTimeout(r, 1000))
    const tries = h.genesys.received.filter((r) => r.kind === 'message' && want.has(idOf(r) ?? ''))
    const oks = tries.filter((r) => r.status === 200)
    t.equal(tries.filter((r) => r.status === 429).length, 10, 'ten 429 answers')
    t.equal(new Set(oks.map(idOf)).size, 10, 'every message posted')
    t.equal(oks.length, 10, 'none posted twice')
    let early = 0
    for (const e of tries.filter((r) => r.status === 429)) {
      const next = tries.find((r) => r.seq > e.seq && idOf(r) === idOf(e))
      if (next === undefined || next.arrivedAt - e.arrivedAt < 1000) early++
    }
    t.equal(early, 0, 'no retry sooner than Retry-After')
  })
})
