import t from 'tap'
import { randomUUID } from 'node:crypto'
import { startHarness } from '../helpers/bridge-harness.js'
import { spawnBridge } from '../helpers/bridge-process.js'
import { waitDeliveredOrInDoubt } from '../helpers/delivery.js'
import { collectRecords } from '../helpers/topic-reader.js'

t.test('an outbound processor killed with SIGKILL mid-stream and restarted sends each message once', async (t) => {
  // Ingest runs here; the outbound role runs in child processes of the same topics and group.
  // A short Meta timeout keeps the claim lease (2x) short, so an in-doubt claim resolves quickly.
  const h = await startHarness({ ROLES: 'ingest', META_TIMEOUT_MS: '5000' })
  t.teardown(() => h.close())
  const errors = await collectRecords<'BridgeErrorEvent'>(
    h.bridge.resources.kafka,
    h.bridge.resources.codec,
    h.config.kafka.topics.errors,
  )
  t.teardown(() => errors.stop())
  const idOf = new Map<string, string>()
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
        idOf.set(`${run} c${c} m${m}`, (body as { id: string }).id)
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
  const { texts, inDoubt, missing } = await waitDeliveredOrInDoubt({
    received: () => h.meta.received,
    errors: errors.records,
    idOf,
    mine,
    timeoutMs: 120_000,
  })
  t.ok(deliveredAtKill < total, `killed mid-stream (${deliveredAtKill} of ${total} delivered at the kill)`)
  t.same(missing, [], 'every message delivered, or reported in doubt on the errors topic')
  t.equal(texts.length, new Set(texts).size, 'none delivered twice')
  t.ok(inDoubt.size < total / 10, `few in doubt: only sends in flight at the kill (${inDoubt.size})`)
  t.comment(`${texts.length} delivered, ${inDoubt.size} reported in doubt`)
  let outOfOrder = 0
  for (let c = 0; c < conversations; c++) {
    const seq = texts.filter((x) => x.includes(` c${c} `)).map((x) => Number(/m(\d+)$/.exec(x)?.[1]))
    if (seq.some((v, i) => i > 0 && v < (seq[i - 1] as number))) outOfOrder++
  }
  t.equal(outOfOrder, 0, 'order per conversation kept across the kill')
})
