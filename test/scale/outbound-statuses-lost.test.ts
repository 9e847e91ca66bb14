import t from 'tap'
import { randomUUID } from 'node:crypto'
import type { ReceivedSummary } from '../../src/fakes/control.js'
import { buildOutbound } from '../../src/fakes/genesys-webhooks.js'
import { disorderedConversations, waitDelivered } from '../helpers/delivery.js'
import { counterOf, startProcessStack } from '../helpers/process-stack.js'
import { waitNoOpenClaims } from '../helpers/tracking.js'

const conversations = 100
const perConversation = 5
/** The first sends Meta takes but answers with a proxy's bare 502: their outcome is unknown. */
const unknown = 20

const textOf = (r: ReceivedSummary): string => (r.body as { text: { body: string } }).text.body

t.test(
  'statuses lost: a send with an unknown outcome and no status is resent once, and the metric counts it',
  async (t) => {
    // Two outbound workers; half of all sends have every status lost (Meta's webhooks never come).
    // Only a send whose outcome the bridge does not know needs a status, so the first `unknown`
    // sends are taken by Meta but answered 502: those with a status are settled by it, those without
    // are resent once after the window, and the customer gets them twice: the residual risk
    // (docs/reliability.md), which the resends counted by gwb_outbound_settlement_total{outcome="resent"}
    // must show. Window 30 s (at least 2 × META_TIMEOUT_MS 4 s): the statuses that are not lost come
    // within about 2 s, with room for this loaded machine's stalls; a shorter test than the default 60 s.
    const s = await startProcessStack(
      { META_TIMEOUT_MS: '4000', RECONCILE_WINDOW_MS: '30000' },
      {
        metaLatency: { medianMs: 10, p99Ms: 40 },
        statuses: { delay: { medianMs: 500, p99Ms: 2000 }, lossRate: 0.5, statuses: ['sent'] },
      },
    )
    t.teardown(() => s.close())
    const workers = await Promise.all([s.spawnWorker(), s.spawnWorker()])
    await s.fakes.call('failMetaNext', { n: unknown, fault: { accepted: true, status: 502 } })

    const run = randomUUID().slice(0, 8)
    const mine = { acceptedOnly: true, contains: run }
    const idOf = new Map<string, string>()
    await Promise.all(
      Array.from({ length: conversations }, async (_, c) => {
        const conversationId = randomUUID()
        for (let m = 0; m < perConversation; m++) {
          const text = `${run} c${c} m${m}`
          const body = buildOutbound({
            integrationId: s.tenant.genesys.integrationId,
            conversationId,
            toId: `44791${String(c).padStart(7, '0')}`,
            text,
          })
          idOf.set(text, (body as { id: string }).id)
          const res = await s.postGenesys(body)
          if (res.status !== 200) throw new Error(`webhook refused: ${res.status} ${res.body}`)
          await new Promise((r) => setTimeout(r, 20))
        }
      }),
    )
    const received = () => s.fakes.received(mine)
    const { missing } = await waitDelivered({ received, idOf, mine: () => true, timeoutMs: 120_000 })
    // A resend still to come would be a claim still open: wait until none is.
    t.equal(await waitNoOpenClaims(s.sql, [...idOf.values()], 90_000), 0, 'no claim left open')
    t.same(missing, [], 'every message delivered')

    const arrivals = await received()
    const lost = new Set(
      (await s.fakes.call('emittedStatuses', { callbackContains: s.tenant.id }))
        .filter((e) => e.lost)
        .map((e) => e.wamid),
    )
    const copies = new Map<string, ReceivedSummary[]>()
    for (const r of arrivals) copies.set(textOf(r), [...(copies.get(textOf(r)) ?? []), r])
    const faulted = [...copies].filter(([, c]) => c[0]?.status === 502)
    const faultedLost = faulted.filter(([, c]) => lost.has(c[0]?.wamid ?? ''))
    const twice = [...copies].filter(([, c]) => c.length > 1)
    t.equal(faulted.length, unknown, `${unknown} sends answered 502 after Meta took them`)
    t.ok(faultedLost.length > 0, `some of them had every status lost (${faultedLost.length})`)
    for (const [x, c] of faulted) {
      const statusLost = lost.has(c[0]?.wamid ?? '')
      t.equal(
        c.length,
        statusLost ? 2 : 1,
        statusLost ? `${x}: no status, resent once (sent twice)` : `${x}: settled by its status, sent once`,
      )
    }
    t.same(
      twice.filter(([, c]) => !lost.has(c[0]?.wamid ?? '')).map(([x]) => x),
      [],
      'no message sent twice whose first copy had a status',
    )
    const count = async (outcome: string) =>
      (
        await Promise.all(workers.map((w) => counterOf(w, 'gwb_outbound_settlement_total', `outcome="${outcome}"`)))
      ).reduce((a, b) => a + b, 0)
    const resent = await count('resent')
    t.comment(
      `${twice.length} sent twice; settlement: ${await count('settled_by_status')} settled by status, ${resent} resent`,
    )
    t.ok(
      twice.length > 0 && resent >= twice.length,
      `every copy sent twice is counted as resent (${resent} ≥ ${twice.length})`,
    )
    t.equal(
      await counterOf(s.front, 'gwb_outbound_settlement_total', 'outcome="late_status_of_resent"'),
      0,
      'no status came late: every resend was of a send whose statuses were lost',
    )
    t.same(disorderedConversations(arrivals.map(textOf)), [], 'order per conversation kept, the resend in its place')
  },
)
