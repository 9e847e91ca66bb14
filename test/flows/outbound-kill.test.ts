import t from 'tap'
import { randomUUID } from 'node:crypto'
import type { Test } from 'tap'
import type { LatencyModel } from '../../src/fakes/fault-plan.js'
import { startHarness } from '../helpers/bridge-harness.js'
import { spawnBridge } from '../helpers/bridge-process.js'
import { disorderedConversations, waitDelivered } from '../helpers/delivery.js'

/**
 * An outbound processor SIGKILLed mid-stream and restarted: every message reaches Meta exactly
 * once and in order per conversation, with no allowance. Sends the killed process had claimed are
 * settled from the fake Meta's status webhooks (callback data), or resent once after the window when
 * they never left. Run twice: statuses at once, and statuses delayed by several seconds.
 */
async function killRun(
  t: Test,
  o: { conversations: number; perConversation: number; statusDelay: LatencyModel | undefined },
) {
  // Ingest and the status role run here; outbound runs in child processes of the same group. The
  // window must outlast the longest this loaded machine takes from a claim to the status webhook
  // being processed: the fake Meta was seen to stall 8 s on a request (docs/reliability.md).
  const h = await startHarness(
    { ROLES: 'ingest,status', META_TIMEOUT_MS: '4000', RECONCILE_WINDOW_MS: '30000' },
    { statuses: o.statusDelay === undefined ? {} : { delay: o.statusDelay } },
  )
  t.teardown(() => h.close())
  const idOf = new Map<string, string>()
  h.meta.setLatency({ medianMs: 40, p99Ms: 150 })
  const childEnv = { ...h.env, ROLES: 'outbound', HTTP_PORT: '0' }
  let worker = await spawnBridge(childEnv)
  t.teardown(() => worker.kill('SIGKILL'))

  const run = randomUUID().slice(0, 8)
  const total = o.conversations * o.perConversation
  const waIdOf = (c: number) => `44780${String(c).padStart(7, '0')}`
  let posted = 0
  const traffic = Promise.all(
    Array.from({ length: o.conversations }, async (_, c) => {
      const conversationId = randomUUID()
      for (let m = 0; m < o.perConversation; m++) {
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
  const mine = (r: { accepted: boolean; raw: string }) => r.accepted && r.raw.includes(run)
  // Kill once a good part has gone through, while sends are in flight.
  await h.meta.waitForCount(Math.floor(total * 0.3), mine, 60_000)
  t.equal(await worker.kill('SIGKILL'), 'SIGKILL')
  const deliveredAtKill = h.meta.received.filter(mine).length
  worker = await spawnBridge(childEnv)
  await traffic
  t.equal(posted, total)

  const { missing } = await waitDelivered({ received: () => h.meta.received, idOf, mine, timeoutMs: 120_000 })
  // A late duplicate would be a resend of a claim still open: wait until none is, then count.
  const ids = [...idOf.values()]
  const openClaims = async () =>
    (
      await h.bridge.resources.sql<{ n: number }[]>`
        select count(*)::int as n from message_tracking
        where direction = 'outbound' and genesys_message_id = any(${ids}) and status = 'claimed'`
    )[0]?.n ?? -1
  const until = Date.now() + 60_000
  while ((await openClaims()) !== 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 250))
  t.equal(await openClaims(), 0, 'no claim left open')
  const texts = h.meta.received.filter(mine).map((r) => (r.body as { text: { body: string } }).text.body)
  t.ok(deliveredAtKill < total, `killed mid-stream (${deliveredAtKill} of ${total} delivered at the kill)`)
  t.same(missing, [], 'every message delivered')
  t.equal(texts.length, new Set(texts).size, 'none delivered twice')
  if (texts.length !== new Set(texts).size) {
    // What a duplicate looked like: both copies, their statuses, and the row.
    const copies = new Map<string, { wamid: string | undefined; at: number }[]>()
    for (const r of h.meta.received.filter(mine)) {
      const x = (r.body as { text: { body: string } }).text.body
      copies.set(x, [...(copies.get(x) ?? []), { wamid: r.wamid, at: Math.round(r.arrivedAt) }])
    }
    for (const [x, c] of [...copies].filter(([, c]) => c.length > 1).slice(0, 3)) {
      const statuses = h.meta.emittedStatuses
        .filter((e) => c.some((k) => k.wamid === e.wamid))
        .map((e) => `${e.wamid}:${e.status}:${e.httpStatus}@${e.at}`)
      const row = await h.bridge.resources.sql`
        select status, wamid, claimed_at, resent_at, settled_at, sent_at, attempts from message_tracking
        where direction = 'outbound' and genesys_message_id = ${idOf.get(x) ?? ''}`
      t.comment(JSON.stringify({ x, copies: c, statuses, row: row[0] }))
    }
  }
  t.same(disorderedConversations(texts), [], 'order per conversation kept across the kill')
  const settled = await h.bridge.resources.sql<{ resent: number; byStatus: number }[]>`
    select count(*) filter (where resent_at is not null)::int as resent,
           count(*) filter (where settled_at is not null)::int as "byStatus"
    from message_tracking where direction = 'outbound' and genesys_message_id = any(${[...idOf.values()]})`
  t.comment(`${texts.length} delivered; settled by status: ${settled[0]?.byStatus}, resent: ${settled[0]?.resent}`)
}

t.test('an outbound processor killed with SIGKILL mid-stream and restarted sends each message once', (t) =>
  killRun(t, { conversations: 50, perConversation: 20, statusDelay: undefined }),
)

t.test('the same with status webhooks delayed by several seconds', (t) =>
  killRun(t, { conversations: 20, perConversation: 20, statusDelay: { fixedMs: 3000 } }),
)
