import t from 'tap'
import { randomUUID } from 'node:crypto'
import { startHarness } from '../helpers/bridge-harness.js'
import { spawnBridge } from '../helpers/bridge-process.js'

t.test('the per-number send rate holds across two outbound processes', async (t) => {
  const limits = { META_SEND_RATE_PER_NUMBER: '20', META_SEND_BURST_PER_NUMBER: '5' }
  const h = await startHarness(limits)
  t.teardown(() => h.close())
  // A second member of the same consumer group: the partitions (and the messages) are split
  // between the two, so only a budget shared through Redis keeps the number under 20/s.
  const other = await spawnBridge({ ...h.env, ...limits, ROLES: 'outbound', HTTP_PORT: '0' })
  t.teardown(() => other.kill('SIGTERM'))

  const run = randomUUID().slice(0, 8)
  const n = 65
  await Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const body = h.genesys.buildOutbound({
        integrationId: h.tenant.genesys.integrationId,
        conversationId: randomUUID(),
        toId: `4479${String(i).padStart(8, '0')}`,
        text: `${run} ${i}`,
      })
      const res = await h.postGenesys(body)
      if (res.status !== 200) throw new Error(`refused ${res.status}`)
    }),
  )
  const mine = (r: { status: number; raw: string }) => r.status === 200 && r.raw.includes(run)
  await h.meta.waitForCount(n, mine, 30_000)
  const times = h.meta.received
    .filter(mine)
    .map((r) => r.arrivedAt)
    .sort((a, b) => a - b)
  // Arrival times carry scheduling jitter (hundreds of ms on a loaded 2-core machine) on top of
  // the budget, so the bounds leave room for it while still telling a shared 20/s budget
  // (65 sends take >= 3 s) from two separate ones (40/s: about 1.4 s, 90 in two seconds).
  let busiest = 0
  for (let i = 0; i < times.length; i++) {
    const inWindow = times.filter((x) => x >= (times[i] as number) && x < (times[i] as number) + 2000).length
    busiest = Math.max(busiest, inWindow)
  }
  t.ok(busiest <= 2 * 20 + 5 + 10, `about 2 x rate + burst in any two seconds (busiest: ${busiest})`)
  const spanMs = (times.at(-1) as number) - (times[0] as number)
  t.ok(spanMs >= 2200, `the 65 sends spread over ${Math.round(spanMs)} ms (shared budget: 3000)`)
  t.equal(
    h.meta.received.filter((r) => r.raw.includes(run) && r.status !== 200).length,
    0,
    'the fake Meta never had to answer 130429',
  )
})
