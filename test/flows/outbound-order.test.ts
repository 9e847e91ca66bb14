import t from 'tap'
import { randomUUID } from 'node:crypto'
import { startHarness } from '../helpers/bridge-harness.js'

t.test('200 conversations x 5 messages sent concurrently arrive once each and in order per conversation', async (t) => {
  // Meta latency varies per request, so a bridge that ran a conversation's messages in parallel
  // would deliver them out of order here.
  const h = await startHarness({ TOPIC_PARTITIONS: '4' })
  t.teardown(() => h.close())
  h.meta.setLatency({ medianMs: 5, p99Ms: 40 })
  const conversations = 200
  const perConversation = 5
  const run = randomUUID().slice(0, 8)
  const waIdOf = (c: number) => `44770${String(c).padStart(7, '0')}`

  await Promise.all(
    Array.from({ length: conversations }, async (_, c) => {
      const conversationId = randomUUID()
      // Genesys sends a conversation's next message after the previous one was acknowledged.
      for (let m = 0; m < perConversation; m++) {
        const body = h.genesys.buildOutbound({
          integrationId: h.tenant.genesys.integrationId,
          conversationId,
          toId: waIdOf(c),
          text: `${run} c${c} m${m}`,
        })
        const res = await h.postGenesys(body)
        if (res.status !== 200) throw new Error(`webhook refused: ${res.status} ${res.body}`)
      }
    }),
  )
  const total = conversations * perConversation
  const mine = () => h.meta.received.filter((r) => r.status === 200 && r.raw.includes(run))
  await h.meta.waitForCount(total, (r) => r.status === 200 && r.raw.includes(run), 60_000)

  const texts = mine().map((r) => (r.body as { text: { body: string } }).text.body)
  t.equal(texts.length, total, 'every message arrived')
  t.equal(new Set(texts).size, total, 'none twice')
  let outOfOrder = 0
  for (let c = 0; c < conversations; c++) {
    const seq = mine()
      .filter((r) => (r.body as { to: string }).to === waIdOf(c))
      .map((r) => Number(/m(\d+)$/.exec((r.body as { text: { body: string } }).text.body)?.[1]))
    if (seq.join() !== [0, 1, 2, 3, 4].join()) outOfOrder++
  }
  t.equal(outOfOrder, 0, 'every conversation in order')
})
