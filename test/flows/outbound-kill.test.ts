import t from 'tap'
import { randomUUID } from 'node:crypto'
import { startHarness } from '../helpers/bridge-harness.js'
import { spawnBridge } from '../helpers/bridge-process.js'

t.test('an outbound processor killed with SIGKILL mid-stream and restarted sends each message once', async (t) => {
  // Ingest runs here; the outbound role runs in child processes of the same topics and group.
  const h = await startHarness({ ROLES: 'ingest' })
  t.teardown(() => h.close())
  h.meta.setLatency({ medianMs: 40, p99Ms: 150 })
  const childEnv = { ...h.env, ROLES: 'outbound', HTTP_PORT: '0' }
  let worker = await spawnBridge(childEnv)
  t.teardown(() => worker.kill('SIGKILL'))

  const run = randomUUID().slice(0, 8)
  const conversations = 50
  const perConversation = 20
  const waIdOf = (c: number) => `44780${String(c).padStart(7, '0')}`
  let posted = 0
  const traffic = Promise.all(
    Array.from({ length: conversations }, async (_, c) => {
      const conversationId = randomUUID()
      for (let m = 0; m < perConversation; m++) {
        const body = h.genesys.buildOutbound({
          integrationId: h.tenant.genesys.integrationId,
          conversationId,
          toId: waIdOf(c),
          text: `${run} c${c} m${m}`,
        })
        const res = await h.postGenesys(body)
        if (res.status !== 200) throw new Error(`webhook refused: ${res.status}`)
        posted++
        await new Promise((r) => setTimeout(r, 10))
      }
    }),
  )
  const mine = (r: { status: number; raw: string }) => r.status === 200 && r.raw.includes(run)
  // Kill once a good part has gone through, while sends are in flight.
  await h.meta.waitForCount(300, mine, 60_000)
  t.equal(await worker.kill('SIGKILL'), 'SIGKILL')
  const deliveredAtKill = h.meta.received.filter(mine).length
  worker = await spawnBridge(childEnv)
  await traffic
  t.equal(posted, conversations * perConversation)

  const total = conversations * perConversation
  await h.meta.waitForCount(total, mine, 120_000)
  const texts = h.meta.received.filter(mine).map((r) => (r.body as { text: { body: string } }).text.body)
  t.ok(deliveredAtKill < total, `killed mid-stream (${deliveredAtKill} of ${total} delivered at the kill)`)
  t.equal(new Set(texts).size, total, 'every message delivered')
  t.equal(texts.length, total, 'none delivered twice')
  let outOfOrder = 0
  for (let c = 0; c < conversations; c++) {
    const seq = texts.filter((x) => x.includes(` c${c} `)).map((x) => Number(/m(\d+)$/.exec(x)?.[1]))
    if (seq.some((v, i) => i > 0 && v < (seq[i - 1] as number))) outOfOrder++
  }
  t.equal(outOfOrder, 0, 'order per conversation kept across the kill')
})
