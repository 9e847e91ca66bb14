import t from 'tap'
import { startHarness } from '../helpers/bridge-harness.js'
import { privateKafka } from '../helpers/private-servers.js'
import { checkDelivery, startTraffic } from '../helpers/fault-traffic.js'

/**
 * The test's own Kafka broker (same jars as the shared one, own port and data folder; the schema
 * registry stays the shared one) is stopped for about 20 s while conversations keep posting.
 */
t.test(
  'Kafka stopped for 20 s: ingest answers 503, recovers by itself, every acknowledged webhook sent once',
  async (t) => {
    const kafka = await privateKafka()
    t.teardown(() => kafka.close())
    await kafka.start()
    const h = await startHarness({ KAFKA_BROKERS: kafka.endpoint })
    t.teardown(() => h.close())

    const tr = startTraffic(h, { conversations: 20, perConversation: 25, pauseMs: 200, waPrefix: '44781' })
    await h.meta.waitForCount(60, tr.mine, 30_000)
    const stoppedAt = Date.now()
    await kafka.stop('kill')
    const sentAtStop = h.meta.received.filter(tr.mine).length
    await new Promise((r) => setTimeout(r, 20_000))
    const refusedDuringOutage = tr.stats.refused503
    await kafka.start()
    const restartedAt = Date.now()
    t.comment(`broker down ${restartedAt - stoppedAt} ms; ${sentAtStop} sent at the stop`)

    const counts = await checkDelivery(t, h, tr, 90_000)
    t.ok(refusedDuringOutage > 0, `ingest refused ${refusedDuringOutage} posts with 503 while the broker was down`)
    t.equal(tr.stats.refusedOther, 0, 'no other refusal than 503')
    // The produce deadline is 5 s per flush, and a record queued behind a flush that is timing out
    // waits for that one first: up to about 10 s (see docs/reliability.md).
    t.ok(tr.stats.slowestPostMs < 12_000, `no post waited more than 12 s for its answer (${tr.stats.slowestPostMs} ms)`)
    t.ok(sentAtStop < tr.total, 'the broker stopped mid-stream')
    t.ok((tr.stats.lastRefusalAt ?? 0) < restartedAt + 30_000, 'ingest accepted again soon after the restart')
    t.comment(
      `recovered: last 503 ${((tr.stats.lastRefusalAt ?? restartedAt) - restartedAt) / 1000} s after the restart; ${JSON.stringify(counts)}`,
    )
  },
)
