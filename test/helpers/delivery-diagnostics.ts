/**
 * Why acknowledged messages did not reach Meta: for each one, where it sits on the topic (or that
 * it is not there at all), its tracking row, what its conversation did get, and the group's
 * committed offsets and lag per partition. Printed by the fault tests when something is missing.
 */
import { randomUUID } from 'node:crypto'
import type { Harness } from './bridge-harness.js'
import type { Traffic } from './fault-traffic.js'
import { fetchTopicOffsets } from '../../src/sinks/kafka/offsets.js'

interface Place {
  partition: number
  offset: string
}

/** Every place on `topic` whose record value contains one of `texts` (read to the high watermarks). */
async function findOnTopic(h: Harness, topic: string, texts: string[], timeoutMs: number) {
  const kafka = h.bridge.resources.kafka
  const admin = kafka.admin()
  await admin.connect()
  const high = new Map<number, number>()
  try {
    for (const o of await fetchTopicOffsets(admin, topic)) high.set(o.partition, Number(o.high))
  } finally {
    await admin.disconnect()
  }
  const found = new Map<string, Place[]>(texts.map((x) => [x, []]))
  const needles = texts.map((x) => [x, Buffer.from(x)] as const)
  const reached = new Map<number, number>()
  const done = (): boolean => [...high].every(([p, hw]) => hw === 0 || (reached.get(p) ?? 0) >= hw)
  if (done()) return { found, high }
  const consumer = kafka.consumer({ groupId: `test-diagnostics-${randomUUID()}` })
  await consumer.connect()
  try {
    await consumer.subscribe({ topic, fromBeginning: true })
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs)
      void consumer.run({
        eachMessage: async ({ partition, message }) => {
          for (const [x, b] of needles)
            if (message.value?.includes(b)) found.get(x)?.push({ partition, offset: message.offset })
          reached.set(partition, Number(message.offset) + 1)
          if (done()) {
            clearTimeout(timer)
            resolve()
          }
        },
      })
    })
  } finally {
    await consumer.disconnect()
  }
  return { found, high, reached }
}

/** Lines describing each missing message and the outbound group's state, for t.comment. */
export async function diagnoseMissing(
  h: Harness,
  tr: Pick<Traffic, 'mine' | 'messageIdOf'>,
  missing: string[],
): Promise<string[]> {
  const lines: string[] = []
  const topic = h.config.kafka.topics.genesysOutbound
  const groupId = `${h.config.kafka.groupPrefix}outbound`
  const safe = async (what: string, fn: () => Promise<void>): Promise<void> => {
    try {
      await fn()
    } catch (err) {
      lines.push(`${what}: failed: ${err instanceof Error ? err.message : String(err)}`)
    }
  }
  await safe('offsets', async () => {
    const admin = h.bridge.resources.kafka.admin()
    await admin.connect()
    try {
      const ends = await fetchTopicOffsets(admin, topic)
      const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] })
      const parts = ends.map((e) => {
        const c = committed?.partitions.find((p) => p.partition === e.partition)?.offset ?? '?'
        return `p${e.partition} committed=${c} high=${e.high} lag=${Number(e.high) - Number(c)}`
      })
      lines.push(`group ${groupId}: ${parts.join('; ')}`)
    } finally {
      await admin.disconnect()
    }
  })
  let places = new Map<string, Place[]>()
  await safe('topic scan', async () => {
    const r = await findOnTopic(h, topic, missing, 20_000)
    places = r.found
  })
  const delivered = h.meta.received.filter(tr.mine).map((r) => (r.body as { text: { body: string } }).text.body)
  const ids = missing.map((x) => tr.messageIdOf(x)).filter((x): x is string => x !== undefined)
  const rows = new Map<string, unknown>()
  await safe('tracking rows', async () => {
    const found = await h.bridge.resources.sql<{ genesys_message_id: string }[]>`
      select genesys_message_id, status, wamid, attempts, claimed_at, resent_at, error_code, error_text
      from message_tracking where direction = 'outbound' and genesys_message_id in ${h.bridge.resources.sql(ids)}`
    for (const row of found) rows.set(row.genesys_message_id, row)
  })
  for (const text of missing) {
    const conv = / (c\d+) m\d+$/.exec(text)?.[1] ?? '?'
    const got = delivered.filter((x) => x.includes(` ${conv} `)).map((x) => x.replace(/^.* (m\d+)$/, '$1'))
    const id = tr.messageIdOf(text)
    const onTopic = places.get(text) ?? []
    lines.push(
      `missing "${text}" id=${id ?? '?'}: on topic at ${onTopic.length === 0 ? 'NOWHERE' : onTopic.map((p) => `p${p.partition}@${p.offset}`).join(',')}; ` +
        `row ${JSON.stringify(id === undefined ? undefined : (rows.get(id) ?? null))}; ${conv} delivered ${got.join(',')}`,
    )
  }
  await safe('metrics', async () => {
    const res = await fetch(`${h.adminUrl}/metrics`)
    const text = await res.text()
    const wanted =
      /^(gwb_records_total|gwb_records_in_flight|gwb_consumer_lag_records|gwb_outbound_settlement_total)\{[^}]*(outbound|genesys)/
    lines.push(...text.split('\n').filter((l) => wanted.test(l)))
  })
  return lines
}
