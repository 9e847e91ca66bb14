import t, { type Test } from 'tap'
import { randomBytes, randomUUID } from 'node:crypto'
import { deadLetterTopic } from '../../src/config/config.js'
import type { GenesysReceived } from '../../src/fakes/fake-genesys.js'
import { newWamid, statusUpdate } from '../../src/fakes/meta-webhooks.js'
import type { BridgeErrorEvent } from '../../src/schemas/records.generated.js'
import { startHarness, type Harness } from '../helpers/bridge-harness.js'
import { waitForRecord } from '../helpers/topic-reader.js'

/**
 * Poison records on a consumed topic: bytes that are not the Confluent wire format, a schema id the
 * registry does not know, and a well-formed record of another topic's schema. Each goes to
 * `<topic>.dlq` as a DeadLetter carrying the original bytes, and the consumer moves on: a valid
 * record produced after them on every partition is still processed.
 */

const PARTITIONS = 4

function poisons(h: Harness, tag: string): { name: string; value: Buffer }[] {
  const { codec } = h.bridge.resources
  const errorsTopic = h.config.kafka.topics.errors
  const event: BridgeErrorEvent = {
    sourceTopic: 'x',
    partition: 0,
    offset: 0,
    tenantId: h.tenant.id,
    messageId: null,
    conversationId: null,
    code: 'GWB_TEST',
    message: tag,
    platformCode: null,
    attempts: 1,
    occurredAtMs: Date.now(),
  }
  const otherSchema = codec.encode(errorsTopic, event)
  const unknownId = Buffer.alloc(5 + 16)
  unknownId.writeUInt8(0, 0)
  unknownId.writeUInt32BE(0x7fff_fff0, 1)
  randomBytes(16).copy(unknownId, 5)
  return [
    { name: 'garbage bytes', value: Buffer.from(`not avro at all ${tag}`) },
    { name: 'unknown schema id', value: unknownId },
    { name: 'truncated wire format', value: Buffer.from([0, 0, 0]) },
    { name: "another topic's schema", value: otherSchema },
  ]
}

async function producePoison(h: Harness, topic: string, key: string, values: Buffer[]): Promise<void> {
  const producer = h.bridge.resources.kafka.producer()
  await producer.connect()
  try {
    for (let p = 0; p < PARTITIONS; p++) {
      await producer.send({ topic, messages: values.map((value) => ({ key, value, partition: p })) })
    }
  } finally {
    await producer.disconnect()
  }
}

async function expectDeadLetters(
  t: Test,
  h: Harness,
  topic: string,
  cases: { name: string; value: Buffer }[],
): Promise<void> {
  const { kafka, codec } = h.bridge.resources
  for (const c of cases) {
    const dl = await waitForRecord<'DeadLetter'>(
      kafka,
      codec,
      deadLetterTopic(topic),
      (d) => d.sourceTopic === topic && d.value !== null && Buffer.compare(d.value, c.value) === 0,
      30_000,
    )
    t.equal(dl.code, 'GWB_DECODE', `${c.name}: dead-lettered as undecodable (${dl.message})`)
    t.equal(dl.attempts, 0, `${c.name}: never handled`)
  }
}

t.test('poison records are dead-lettered and the consumers move on', async (t) => {
  const h = await startHarness({ TOPIC_PARTITIONS: String(PARTITIONS) })
  t.teardown(() => h.close())
  const topics = h.config.kafka.topics

  t.test('genesys-outbound', async (t) => {
    const conversationId = randomUUID()
    const cases = poisons(h, conversationId)
    await producePoison(
      h,
      topics.genesysOutbound,
      conversationId,
      cases.map((c) => c.value),
    )
    // A tombstone too: no value at all.
    const producer = h.bridge.resources.kafka.producer()
    await producer.connect()
    await producer.send({ topic: topics.genesysOutbound, messages: [{ key: conversationId, value: null }] })
    await producer.disconnect()

    const text = `after the poison ${conversationId}`
    const res = await h.postGenesys(
      h.genesys.buildOutbound({
        integrationId: h.tenant.genesys.integrationId,
        conversationId,
        toId: '447700900123',
        text,
      }),
    )
    t.equal(res.status, 200, res.body)
    await h.meta.waitFor((r) => r.status === 200 && r.raw.includes(text), 30_000)
    t.pass('the valid record behind the poison (same key, same partition) reached Meta')
    await expectDeadLetters(t, h, topics.genesysOutbound, cases)
    await waitForRecord<'DeadLetter'>(
      h.bridge.resources.kafka,
      h.bridge.resources.codec,
      deadLetterTopic(topics.genesysOutbound),
      (d) => d.value === null && d.key?.toString() === conversationId,
      30_000,
    )
    t.pass('the tombstone was dead-lettered too')
  })

  t.test('whatsapp-status', async (t) => {
    const waId = `4477${String(randomBytes(4).readUInt32BE(0)).padStart(10, '0')}`
    const key = `${h.tenant.id}:${waId}`
    const cases = poisons(h, key)
    await producePoison(
      h,
      topics.whatsappStatus,
      key,
      cases.map((c) => c.value),
    )
    // A valid status behind the poison: tracked send, delivered, one Delivered receipt to Genesys.
    const wamid = newWamid()
    const id = randomUUID().replace(/-/g, '')
    await h.bridge.resources.sql`
      insert into message_tracking (tenant_id, direction, genesys_message_id, wamid, wa_id, status, sent_at)
      values (${h.tenant.id}, 'outbound', ${id}, ${wamid}, ${waId}, 'sent', now())`
    const res = await h.postMeta(
      h.meta.buildWebhook({
        phoneNumberId: h.tenant.whatsapp.phoneNumberId,
        statuses: [statusUpdate({ wamid, status: 'delivered', recipientId: waId })],
      }),
    )
    t.equal(res.status, 200, res.body)
    const got = await h.genesys.waitFor(
      (r: GenesysReceived) => r.kind === 'receipt' && (r.body as { id?: string }).id === id,
      30_000,
    )
    t.equal((got.body as { status: string }).status, 'Delivered', 'the valid status behind the poison was processed')
    await expectDeadLetters(t, h, topics.whatsappStatus, cases)
  })

  t.test('whatsapp-inbound and whatsapp-webhooks-raw', async (t) => {
    const key = `${h.tenant.id}:poison-${randomUUID()}`
    for (const topic of [topics.whatsappInbound, topics.whatsappRaw]) {
      const cases = poisons(h, `${topic}-${key}`).slice(0, 2)
      await producePoison(
        h,
        topic,
        key,
        cases.map((c) => c.value),
      )
      await expectDeadLetters(t, h, topic, cases)
    }
  })
})
