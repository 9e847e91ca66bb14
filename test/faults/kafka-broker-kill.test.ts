import { randomUUID } from 'node:crypto'
import kafkajs, { Kafka, logLevel } from 'kafkajs'
import pino from 'pino'
import t from 'tap'
import { startHarness } from '../helpers/bridge-harness.js'
import { diagnoseMissing } from '../helpers/delivery-diagnostics.js'
import { checkDelivery, startTraffic } from '../helpers/fault-traffic.js'
import { privateKafkaCluster } from '../helpers/private-kafka-cluster.js'
import { waitForTracking } from '../helpers/tracking.js'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/**
 * The bridge on a three-broker KRaft cluster, its topics created from configuration at replication
 * factor 3 with min.insync.replicas=2. While conversations keep posting, the broker leading most
 * partitions of the outbound topic is SIGKILLed and later restarted; then two brokers are stopped,
 * so no write can reach min.insync.replicas, and restarted.
 */
t.test('three brokers: the leaders’ broker killed mid-stream, then two of three', async (t) => {
  const cluster = await privateKafkaCluster(3)
  t.teardown(() => cluster.close())
  await cluster.start()
  // The bridge's own account (warnings and errors of its Kafka clients, group assignments), the
  // latest lines printed when a message is missing.
  const logged: string[] = []
  const keep = (line: string): boolean => !line.includes('"level":30') || line.includes('partitions assigned')
  const write = (line: string): void => {
    if (keep(line)) logged.push(line.trimEnd().slice(0, 400))
    if (logged.length > 400) logged.splice(0, 200)
  }
  const log = pino({ level: 'info' }, { write })
  const h = await startHarness({ KAFKA_BROKERS: cluster.endpoint, TOPIC_REPLICATION_FACTOR: '3' }, { log })
  t.teardown(() => h.close())
  const topic = h.config.kafka.topics.genesysOutbound

  t.test('topics are created with the configured replication and min.insync.replicas', async (t) => {
    const admin = new Kafka({ brokers: cluster.endpoint.split(','), logLevel: logLevel.NOTHING }).admin()
    await admin.connect()
    t.teardown(() => admin.disconnect())
    const { topics } = await admin.fetchTopicMetadata({ topics: [topic] })
    t.ok(
      (topics[0]?.partitions ?? []).every((p) => p.replicas.length === 3),
      'every partition on three brokers',
    )
    const { resources } = await admin.describeConfigs({
      resources: [{ type: kafkajs.ConfigResourceTypes.TOPIC, name: topic, configNames: ['min.insync.replicas'] }],
      includeSynonyms: false,
    })
    t.equal(resources[0]?.configEntries[0]?.configValue, '2')
  })

  t.test('the leaders’ broker SIGKILLed and restarted: nothing lost, doubled or reordered', async (t) => {
    const tr = startTraffic(h, { conversations: 20, perConversation: 20, pauseMs: 150, waPrefix: '44782' })
    await h.meta.waitForCount(60, tr.mine, 60_000)
    const leaders = await cluster.leaders(topic)
    const led = new Map<number, number>()
    for (const l of leaders.values()) led.set(l, (led.get(l) ?? 0) + 1)
    const victimId = [...led.entries()].sort((a, b) => b[1] - a[1])[0]?.[0]
    const victim = cluster.nodes.find((n) => n.nodeId === victimId)
    if (victim === undefined) throw new Error(`no leader found for ${topic}`)
    const killedAt = Date.now()
    await victim.stop('kill')
    const sentAtKill = h.meta.received.filter(tr.mine).length
    // Failover is over once no partition names the dead broker as its leader.
    let failedOverAt = 0
    for (let i = 0; i < 120 && failedOverAt === 0; i++) {
      const now = await cluster.leaders(topic).catch(() => undefined)
      if (now !== undefined && [...now.values()].every((l) => l >= 0 && l !== victimId)) failedOverAt = Date.now()
      else await sleep(250)
    }
    t.ok(failedOverAt > 0, `leaders moved off broker ${victimId} in ${failedOverAt - killedAt} ms`)
    await sleep(8000)
    await victim.start()
    t.comment(
      `broker ${victimId} (leader of ${led.get(victimId ?? 0)} of ${leaders.size}) down ${Date.now() - killedAt} ms`,
    )

    await checkDelivery(t, h, tr, 120_000, {
      diagnose: async (missing) => [...(await diagnoseMissing(h, tr, missing)), ...logged.slice(-80)],
    })
    // How often kafkajs answered a produce without writing some partitions (see producer.ts).
    const resent = await h.bridge.resources.metrics.produceResent.get()
    t.comment(`records re-sent after an answer that left them unwritten: ${resent.values[0]?.value ?? 0}`)
    t.ok(sentAtKill < tr.total, 'killed mid-stream')
    t.equal(tr.stats.refusedOther + tr.stats.noAnswer, 0, 'no refusal other than 503')
    // Two replicas of three stay in sync: ingest may refuse only while the dead leader's partitions
    // had none (until failover, plus one produce deadline of 5 s for a request already waiting).
    const lastRefusal = tr.stats.lastRefusalAt
    t.ok(
      lastRefusal === undefined || lastRefusal <= failedOverAt + 5500,
      `no 503 once new leaders were elected (${tr.stats.refused503} during failover)`,
    )
  })

  t.test('two brokers of three down: 503 (min.insync.replicas unreachable), then accepted again', async (t) => {
    const [a, b] = cluster.nodes
    if (a === undefined || b === undefined) throw new Error('cluster too small')
    await Promise.all([a.stop('kill'), b.stop('kill')])
    const body = h.genesys.buildOutbound({
      integrationId: h.tenant.genesys.integrationId,
      conversationId: randomUUID(),
      toId: '447829999999',
      text: `two down ${randomUUID()}`,
    })
    const refused = await h.postGenesys(body)
    t.equal(refused.status, 503, 'refused while a write cannot reach two replicas')
    await Promise.all([a.start(), b.start()])
    let res = await h.postGenesys(body)
    for (let i = 0; i < 30 && res.status !== 200; i++) {
      await sleep(1000)
      res = await h.postGenesys(body)
    }
    t.equal(res.status, 200, 'accepted once the brokers are back')
    const { id, text } = body as { id: string; text: string }
    // The group rejoins two restarted brokers first: its coordinator and partitions come back.
    await waitForTracking(h.bridge.resources.sql, id, 'sent', 60_000).catch(async (err: unknown) => {
      const mine = (r: { status: number; raw: string }) => r.status === 200 && r.raw.includes(text)
      for (const line of await diagnoseMissing(h, { mine, messageIdOf: () => id }, [text])) t.comment(line)
      throw err
    })
    t.equal(h.meta.received.filter((r) => r.status === 200 && r.raw.includes(text)).length, 1, 'sent once')
  })
})
