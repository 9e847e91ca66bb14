import t from 'tap'
import { randomUUID } from 'node:crypto'
import { request } from 'undici'
import type { ReceivedSummary } from '../../src/fakes/control.js'
import { buildOutbound } from '../../src/fakes/genesys-webhooks.js'
import type { BridgeProcess } from '../helpers/bridge-process.js'
import { disorderedConversations, waitDelivered } from '../helpers/delivery.js'
import { counterOf, startProcessStack } from '../helpers/process-stack.js'
import { waitNoOpenClaims } from '../helpers/tracking.js'

const conversations = 500
const perConversation = 10
const total = conversations * perConversation
/** Posting spread over about this long, so the kill and the join land mid-run. */
const postingMs = 12_000
/** The fourth process starts once this many are posted; posting waits until it is up. */
const joinAt = 3000

/** The admin port serves /metrics. */
async function lagOf(port: number, group: string): Promise<number[]> {
  const res = await request(`http://127.0.0.1:${port}/metrics`)
  const text = await res.body.text()
  return text
    .split('\n')
    .filter((l) => l.startsWith('gwb_consumer_lag_records{') && l.includes(`group="${group}"`))
    .map((l) => Number(l.split(' ').pop()))
}

const textOf = (r: ReceivedSummary): string => (r.body as { text: { body: string } }).text.body

t.test(
  'outbound scales out: 3 processes, one killed and one added mid-run, every message exactly once and in order',
  async (t) => {
    // Nothing of the bridge or the fakes runs in this process: it only posts and reads. Both fakes
    // are one child, ingest and the status role another, outbound three more, all members of one
    // consumer group. (With ingest, the status role and both fakes in here, this process stalled for
    // over a minute on the loaded 2-core machine and the statuses of ~600 sends came after the
    // window.) Numbers:
    // - The window is the default (RECONCILE_WINDOW_MS 60 s, not set here): what production runs.
    //   It covers claim → send → Meta's status → ingest → Kafka → status role → row, so the claims the
    //   kill leaves are settled by their statuses; only those that never reached Meta are resent.
    // - Statuses as Meta sends them, seconds late (median 2 s, p99 5 s): only 'sent', which is what
    //   settles; 'delivered' would add a Genesys receipt per message and test the status role's
    //   throughput instead.
    // - Meta answers a send in about 150 ms (p99 600 ms), so the kill lands with sends in flight whose
    //   outcome only a status can tell (with 10 ms it often found none).
    // - The test posts over at most 32 connections (process-stack.ts): 500 concurrent posts saturated
    //   ingest on the loaded machine and Meta's status webhooks queued behind them for up to a minute.
    // - The default Meta timeout (10 s): a shorter one turns the seconds-long stalls of a loaded
    //   machine into sends without an answer, each then waiting on its status.
    const s = await startProcessStack(
      { TOPIC_PARTITIONS: '12' },
      {
        metaLatency: { medianMs: 150, p99Ms: 600 },
        statuses: { delay: { medianMs: 2000, p99Ms: 5000 }, statuses: ['sent'] },
      },
    )
    t.teardown(() => s.close())
    const first = await Promise.all([s.spawnWorker(), s.spawnWorker(), s.spawnWorker()])
    const workers = [...first]
    const started = Date.now()
    // For the diagnosis of a late settlement: the status role's lag (records not yet applied)
    // sampled over the run.
    const statusGroup = `${s.config.kafka.groupPrefix}status`
    const statusLag: [number, number][] = []
    const sampler = setInterval(() => {
      void lagOf(s.front.ports().adminPort, statusGroup)
        .then((l) => statusLag.push([Math.round((Date.now() - started) / 1000), l.reduce((a, b) => a + b, 0)]))
        .catch(() => undefined)
    }, 2000)
    t.teardown(() => clearInterval(sampler))

    const run = randomUUID().slice(0, 8)
    const mine = { acceptedOnly: true, contains: run }
    const received = () => s.fakes.received(mine)
    const waIdOf = (c: number) => `44790${String(c).padStart(7, '0')}`
    const gapMs = postingMs / perConversation
    let posted = 0
    const idOf = new Map<string, string>()
    // The join is tied to progress, not to a time a stall could push past the end: once `joinAt`
    // are posted the fourth process starts, and posting holds until it is up, so it joins with the
    // rest of the traffic still to come.
    let join: Promise<{ worker: BridgeProcess; postedAtJoin: number; joinedAt: number }> | undefined
    const startJoin = async () => {
      const postedAtJoin = posted
      const worker = await s.spawnWorker()
      workers.push(worker)
      return { worker, postedAtJoin, joinedAt: Date.now() }
    }
    // One chain per conversation: each message is posted after the previous one was accepted, so
    // the topic holds them in order; chains start staggered so the load is even.
    const traffic = Promise.all(
      Array.from({ length: conversations }, async (_, c) => {
        const conversationId = randomUUID()
        await new Promise((r) => setTimeout(r, (c / conversations) * gapMs))
        for (let m = 0; m < perConversation; m++) {
          if (join === undefined && posted >= joinAt) join = startJoin()
          if (join !== undefined) await join
          const body = buildOutbound({
            integrationId: s.tenant.genesys.integrationId,
            conversationId,
            toId: waIdOf(c),
            text: `${run} c${c} m${m}`,
          })
          idOf.set(`${run} c${c} m${m}`, (body as { id: string }).id)
          const res = await s.postGenesys(body)
          if (res.status !== 200) throw new Error(`webhook refused: ${res.status} ${res.body}`)
          posted++
          await new Promise((r) => setTimeout(r, gapMs))
        }
      }),
    )

    await s.fakes.waitForCount(1000, mine, 60_000)
    const [victim, ...rest] = first
    t.equal(await victim.kill('SIGKILL'), 'SIGKILL', 'one process killed')
    const deliveredAtKill = await s.fakes.call('countReceived', mine)
    const killedAt = Date.now()

    await traffic
    t.equal(posted, total)
    const joined = await (join ?? Promise.reject(new Error('the fourth process never started')))
    const postedAfterJoin = total - joined.postedAtJoin
    const survivors = [...rest, joined.worker]
    // Claims the kill left that never reached Meta wait out the window before their resend.
    await s.fakes.waitForCount(total, mine, 180_000).catch(() => undefined)
    const { missing } = await waitDelivered({ received, idOf, mine: () => true, timeoutMs: 30_000 })
    const elapsed = Date.now() - started
    // A late duplicate would be the resend of a claim still open: wait until none is.
    const ids = [...idOf.values()]
    t.equal(await waitNoOpenClaims(s.sql, ids, 90_000), 0, 'no claim left open')

    const arrivals = await received()
    const texts = arrivals.map(textOf)
    t.ok(deliveredAtKill < total, `killed mid-run (${deliveredAtKill} of ${total} delivered at the kill)`)
    t.ok(
      postedAfterJoin > 0,
      `joined mid-run (${joined.postedAtJoin} of ${total} posted when the fourth started, ${postedAfterJoin} after)`,
    )
    t.same(missing, [], 'every message delivered')
    const settlement = async (outcome: string, procs: BridgeProcess[]) =>
      (
        await Promise.all(procs.map((p) => counterOf(p, 'gwb_outbound_settlement_total', `outcome="${outcome}"`)))
      ).reduce((a, b) => a + b, 0)
    t.comment(
      `settlement: ${await settlement('settled_by_status', survivors)} settled by status, ` +
        `${await settlement('resent', survivors)} resent, ${await settlement('unsettled', survivors)} unsettled, ` +
        `${await settlement('late_status_of_resent', [s.front])} late statuses of resent`,
    )
    clearInterval(sampler)
    // How long the bridge took to answer the status webhooks (ingest), against the window.
    const emitted = await s.fakes.call('emittedStatuses', { callbackContains: s.tenant.id })
    const answer = emitted.map((e) => e.answeredAt - e.at).sort((a, b) => a - b)
    t.comment(
      `status webhooks answered: median ${answer[Math.floor(answer.length / 2)]} ms, max ${answer.at(-1)} ms, ` +
        `${answer.filter((ms) => ms > 10_000).length} of ${answer.length} over 10 s`,
    )
    const worst = statusLag.reduce((m, x) => (x[1] > m[1] ? x : m), [0, 0])
    t.comment(
      `status role lag: max ${worst[1]} records at ${worst[0]} s; samples [s, records]: ${JSON.stringify(statusLag)}`,
    )
    // The claims the kill left are mostly settled by the status role (callback data) before their
    // partition's next owner reads them; that owner counts only those it had to wait on.
    const rows = await s.sql<{ byStatus: number; resent: number }[]>`
      select count(*) filter (where settled_at is not null)::int as "byStatus",
             count(*) filter (where resent_at is not null)::int as resent
      from message_tracking where direction = 'outbound' and genesys_message_id = any(${ids})`
    t.comment(`tracking rows: ${rows[0]?.byStatus} settled by a status's callback data, ${rows[0]?.resent} resent`)
    t.equal(texts.length, new Set(texts).size, 'none delivered twice')
    if (texts.length !== new Set(texts).size) {
      // What a duplicate looked like: when each copy arrived, its statuses, its row, and what the
      // workers logged at warn and up.
      const copies = new Map<string, { wamid: string | undefined; at: number }[]>()
      for (const r of arrivals) {
        copies.set(textOf(r), [
          ...(copies.get(textOf(r)) ?? []),
          { wamid: r.wamid, at: Math.round(r.arrivedAt - started) },
        ])
      }
      const dups = [...copies].filter(([, c]) => c.length > 1)
      t.comment(`${dups.length} duplicated; first: ${JSON.stringify(dups.slice(0, 5))}`)
      for (const [x, c] of dups.slice(0, 3)) {
        const statuses = emitted
          .filter((e) => c.some((k) => k.wamid === e.wamid))
          .map((e) => `${e.wamid}:${e.status}:${e.httpStatus}@${e.at - started}..${e.answeredAt - started}`)
        const row = await s.sql`
          select status, wamid, attempts, error_code, claimed_at, resent_at, settled_at, sent_at from message_tracking
          where direction = 'outbound' and genesys_message_id = ${idOf.get(x) ?? ''}`
        t.comment(JSON.stringify({ x, copies: c, statuses, row: row[0] }))
      }
      t.comment(`kill at ${killedAt - started} ms, join at ${joined.joinedAt - started} ms`)
      const front = await request(`http://127.0.0.1:${s.front.ports().adminPort}/metrics`)
      const counters = (await front.body.text())
        .split('\n')
        .filter((l) => /^gwb_(pending_statuses|retries|dead_letters|ingest_refusals)_total\{/.test(l))
      t.comment(`front counters: ${counters.join('; ')}`)
      const late = s.front
        .output()
        .split('\n')
        .filter((l) => l.includes('the customer got it twice'))
      t.comment(`${late.length} late statuses logged by the status role; first: ${late[0]}`)
      const warnings = [...workers, s.front]
        .flatMap((w) => w.output().split('\n'))
        .filter((l) => /"level":(40|50|60)/.test(l) && !l.includes('kafkajs'))
      t.comment(`warnings (${warnings.length}):\n${warnings.slice(0, 15).join('\n')}`)
    }
    const disordered = disorderedConversations(texts)
    if (disordered.length > 0) {
      t.comment(`out of order: ${JSON.stringify(disordered.slice(0, 5))}`)
      // What it looked like: arrivals, tracking rows and error events of the first conversations.
      t.comment(`kill at ${killedAt - started} ms, join at ${joined.joinedAt - started} ms`)
      for (const [c] of disordered.slice(0, 3)) {
        const got = arrivals
          .filter((r) => textOf(r).includes(` c${c} `))
          .map((r) => `${textOf(r).split(' ').pop()}@${Math.round(r.arrivedAt - started)}`)
        const ids = Array.from({ length: perConversation }, (_, m) => idOf.get(`${run} c${c} m${m}`) ?? '')
        const rows = await s.sql`
          select genesys_message_id, status, attempts, error_code, claimed_at, resent_at, settled_at, sent_at
          from message_tracking
          where direction = 'outbound' and genesys_message_id = any(${ids}) order by claimed_at`
        t.comment(
          JSON.stringify({
            c,
            arrivals: got,
            rows: rows.map((r) => ({ m: ids.indexOf(r['genesys_message_id'] as string), ...r })),
          }),
        )
      }
    }
    t.equal(disordered.length, 0, 'order per conversation kept across the kill and the join')
    t.comment(`${total} messages over ${conversations} conversations in ${(elapsed / 1000).toFixed(1)} s`)

    // Every surviving process reports the group's lag, and it drains to zero.
    const group = `${s.config.kafka.groupPrefix}outbound`
    const deadline = Date.now() + 30_000
    let lags: number[][] = []
    while (Date.now() < deadline) {
      lags = await Promise.all(survivors.map((w) => lagOf(w.ports().adminPort, group)))
      if (lags.every((l) => l.length === 12 && l.every((v) => v === 0))) break
      await new Promise((r) => setTimeout(r, 500))
    }
    t.same(
      lags.map((l) => l.length),
      [12, 12, 12],
      'one lag series per partition in every process',
    )
    t.ok(
      lags.every((l) => l.every((v) => v === 0)),
      'lag drained to zero',
    )

    // Children log at info: no tenant secret in what they wrote.
    const out = [...workers, s.front].map((w) => w.output()).join('')
    for (const secret of [
      s.tenant.whatsapp.accessToken,
      s.tenant.whatsapp.appSecret,
      s.tenant.genesys.clientSecret,
      s.tenant.genesys.webhookSecret,
    ]) {
      t.notOk(out.includes(secret), 'no tenant secret in the children logs')
    }
  },
)
