import t from 'tap'
import { randomBytes, randomUUID } from 'node:crypto'
import { startHarness, type Harness } from '../helpers/bridge-harness.js'
import { waitForTracking } from '../helpers/tracking.js'

const waIdOf = (): string => `4478${String(randomBytes(4).readUInt32BE(0)).padStart(10, '0')}`

/** The Kafka key of the genesys-outbound record of a Genesys message id. */
async function keyOf(h: Harness, messageId: string): Promise<string | undefined> {
  const consumer = h.bridge.resources.kafka.consumer({ groupId: `test-keys-${randomUUID()}` })
  await consumer.connect()
  try {
    await consumer.subscribe({ topic: h.config.kafka.topics.genesysOutbound, fromBeginning: true })
    return await new Promise<string | undefined>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no record of ${messageId}`)), 20_000)
      void consumer.run({
        eachMessage: async ({ message }) => {
          if (message.value === null) return
          const env = await h.bridge.resources.codec.decode<'GenesysOutboundEnvelope'>(
            h.config.kafka.topics.genesysOutbound,
            message.value,
          )
          if (env.messageId !== messageId) return
          clearTimeout(timer)
          resolve(message.key?.toString())
        },
      })
    })
  } finally {
    await consumer.disconnect()
  }
}

const conversationOf = async (h: Harness, id: string): Promise<string | null | undefined> =>
  (
    await h.bridge.resources.sql<{ conversation_id: string | null }[]>`
      select conversation_id from message_tracking where direction = 'outbound' and genesys_message_id = ${id}`
  )[0]?.conversation_id

t.test('agent replies without a top-level conversationId', async (t) => {
  const h = await startHarness()
  t.teardown(() => h.close())
  const known = async () => {
    const mapping = {
      tenantId: h.tenant.id,
      conversationId: randomUUID(),
      waId: waIdOf(),
      phoneNumberId: h.tenant.whatsapp.phoneNumberId,
    }
    await h.bridge.resources.mappings.learn(mapping)
    return mapping
  }

  t.test('to a customer the tenant knows: found by channel.to.id and delivered', async (t) => {
    const m = await known()
    const body = h.genesys.buildOutbound({ integrationId: h.tenant.genesys.integrationId, toId: m.waId, text: 'hi' })
    const id = body['id'] as string
    t.equal((await h.postGenesys(body)).status, 200)
    await waitForTracking(h.bridge.resources.sql, id, 'sent')
    const sent = h.meta.received.filter((r) => r.status === 200 && r.raw.includes(m.waId))
    t.equal(sent.length, 1, 'sent once to the known customer')
    t.equal(await conversationOf(h, id), m.conversationId, "tracked under the customer's conversation")
  })

  t.test(
    "shaped like the seed's example (metadata.conversationId): delivered, keyed by the conversation",
    async (t) => {
      const m = await known()
      const id = randomBytes(16).toString('hex')
      const body = {
        id,
        channel: {
          id: h.tenant.genesys.integrationId,
          platform: 'Open',
          type: 'Private',
          messageId: id,
          to: { id: m.waId, idType: 'Phone' },
          time: new Date().toISOString(),
        },
        type: 'Text',
        text: 'We can help you with that',
        direction: 'Outbound',
        metadata: { conversationId: m.conversationId },
      }
      t.equal((await h.postGenesys(body)).status, 200)
      await waitForTracking(h.bridge.resources.sql, id, 'sent')
      t.equal(h.meta.received.filter((r) => r.status === 200 && r.raw.includes(m.waId)).length, 1, 'sent once')
      t.equal(await keyOf(h, id), m.conversationId, 'the Kafka key is the conversation')
      t.equal(await conversationOf(h, id), m.conversationId)
    },
  )

  t.test('a first contact with neither: refused with InvalidDestination, nothing sent', async (t) => {
    const stranger = waIdOf()
    const body = h.genesys.buildOutbound({ integrationId: h.tenant.genesys.integrationId, toId: stranger, text: 'x' })
    t.equal((await h.postGenesys(body)).status, 200)
    const receipt = await h.genesys.waitFor(
      (r) => r.kind === 'receipt' && (r.body as { id?: string }).id === body['id'],
      20_000,
    )
    t.match(receipt.body, { status: 'Failed', reasons: [{ code: 'InvalidDestination' }] })
    t.equal(h.meta.received.filter((r) => r.raw.includes(stranger)).length, 0)
  })
})
