import t from 'tap'
import { randomUUID } from 'node:crypto'
import type { Kafka } from 'kafkajs'
import { replay } from '../../src/cli/commands/replay.js'
import { collector } from '../../src/cli/io.js'
import { startHarness } from '../helpers/bridge-harness.js'
import { fetchTopicOffsets } from '../../src/sinks/kafka/offsets.js'

/** Waits until the consumer group has committed up to the topic's current end on every partition. */
async function waitCaughtUp(kafka: Kafka, groupId: string, topic: string, timeoutMs = 30_000): Promise<void> {
  const admin = kafka.admin()
  await admin.connect()
  try {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const ends = await fetchTopicOffsets(admin, topic)
      const committed = (await admin.fetchOffsets({ groupId, topics: [topic] }))[0]?.partitions ?? []
      const behind = ends.filter((e) => {
        const c = committed.find((x) => x.partition === e.partition)
        return Number(e.high) > 0 && Number(c?.offset ?? -1) < Number(e.high)
      })
      if (behind.length === 0) return
      if (Date.now() > deadline) throw new Error(`group ${groupId} did not catch up on ${topic}`)
      await new Promise((r) => setTimeout(r, 100))
    }
  } finally {
    await admin.disconnect()
  }
}

const summary = (text: string): string => /scanned \d+, matched \d+, produced \d+/.exec(text)?.[0] ?? text

t.test('replay by time: nothing resent by default, exactly the selected ones with --resend', async (t) => {
  const h = await startHarness()
  t.teardown(() => h.close())
  const topic = h.config.kafka.topics.genesysOutbound
  const group = `${h.config.kafka.groupPrefix}outbound`
  const kafka = h.bridge.resources.kafka
  const convA = randomUUID()
  const convB = randomUUID()
  const waA = '447700900101'
  const waB = '447700900202'

  const since = new Date(Date.now() - 1000).toISOString()
  for (let i = 0; i < 3; i++) {
    const body = h.genesys.buildOutbound({
      integrationId: h.tenant.genesys.integrationId,
      conversationId: convA,
      toId: waA,
      text: `A${i}`,
    })
    t.equal((await h.postGenesys(body)).status, 200)
  }
  for (let i = 0; i < 2; i++) {
    const body = h.genesys.buildOutbound({
      integrationId: h.tenant.genesys.integrationId,
      conversationId: convB,
      toId: waB,
      text: `B${i}`,
    })
    t.equal((await h.postGenesys(body)).status, 200)
  }
  await h.meta.waitForCount(5, (r) => r.status === 200, 20_000)
  await waitCaughtUp(kafka, group, topic)
  await new Promise((r) => setTimeout(r, 50))
  const until = new Date(Date.now() + 1).toISOString()
  t.equal(h.meta.messagesTo(waA).length, 3)
  t.equal(h.meta.messagesTo(waB).length, 2)

  // Dry runs count and produce nothing.
  const dry = collector()
  await replay(h.config, ['--topic', 'genesys-outbound', '--since', since, '--dry-run'], dry)
  t.equal(summary(dry.text()), 'scanned 5, matched 5, produced 0')
  const dryA = collector()
  await replay(
    h.config,
    [
      '--topic',
      'genesys-outbound',
      '--since',
      since,
      '--until',
      until,
      '--conversation',
      convA,
      '--resend',
      '--dry-run',
    ],
    dryA,
  )
  t.equal(summary(dryA.text()), 'scanned 5, matched 3, produced 0')

  // Unchanged replay: every record goes through the outbound flow again, the claims hold.
  await new Promise((r) => setTimeout(r, 20))
  const plain = collector()
  await replay(h.config, ['--topic', 'genesys-outbound', '--since', since, '--until', until], plain)
  t.equal(summary(plain.text()), 'scanned 5, matched 5, produced 5')
  await waitCaughtUp(kafka, group, topic)
  await new Promise((r) => setTimeout(r, 300))
  t.equal(h.meta.messagesTo(waA).length, 3, 'nothing resent to A')
  t.equal(h.meta.messagesTo(waB).length, 2, 'nothing resent to B')

  // --resend of conversation A only, range ending before the replayed copies: exactly 3 more.
  const again = collector()
  await replay(
    h.config,
    ['--topic', 'genesys-outbound', '--since', since, '--until', until, '--conversation', convA, '--resend'],
    again,
  )
  t.equal(summary(again.text()), 'scanned 5, matched 3, produced 3')
  await h.meta.waitForCount(8, (r) => r.status === 200, 20_000)
  await waitCaughtUp(kafka, group, topic)
  await new Promise((r) => setTimeout(r, 300))
  const toA = h.meta.messagesTo(waA)
  t.equal(toA.length, 6, 'A resent once each')
  t.same(
    toA.slice(3).map((r) => (r.body as { text: { body: string } }).text.body),
    ['A0', 'A1', 'A2'],
    'in the original order',
  )
  t.equal(h.meta.messagesTo(waB).length, 2, 'B untouched')
})

t.test('replay by offsets, with a tenant filter', async (t) => {
  const h = await startHarness()
  t.teardown(() => h.close())
  const conv = randomUUID()
  const body = h.genesys.buildOutbound({
    integrationId: h.tenant.genesys.integrationId,
    conversationId: conv,
    toId: '447700900303',
    text: 'hello',
  })
  t.equal((await h.postGenesys(body)).status, 200)
  await h.meta.waitForCount(1, (r) => r.status === 200, 20_000)
  const all = collector()
  await replay(h.config, ['--topic', 'genesys-outbound', '--from-offset', '0', '--dry-run'], all)
  t.equal(summary(all.text()), 'scanned 1, matched 1, produced 0')
  const other = collector()
  await replay(
    h.config,
    ['--topic', 'genesys-outbound', '--from-offset', '0', '--tenant', 'nobody', '--dry-run'],
    other,
  )
  t.equal(summary(other.text()), 'scanned 1, matched 0, produced 0')
  const none = collector()
  await replay(h.config, ['--topic', 'genesys-outbound', '--from-offset', '5', '--dry-run'], none)
  t.equal(summary(none.text()), 'scanned 0, matched 0, produced 0')
})
