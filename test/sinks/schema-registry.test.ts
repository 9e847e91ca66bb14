import t from 'tap'
import { randomUUID } from 'node:crypto'
import { deadLetterTopic } from '../../src/config/config.js'
import { isBridgeError } from '../../src/errors.js'
import type { AvroType } from '../../src/schemas/generate-types.js'
import { topicCatalog, type RecordName } from '../../src/schemas/catalog.js'
import { loadSchemas } from '../../src/schemas/load-schemas.js'
import type { GenesysOutboundEnvelope } from '../../src/schemas/records.generated.js'
import { createKafka } from '../../src/sinks/kafka/client.js'
import { createKafkajsProducer } from '../../src/sinks/kafka/kafkajs-producer.js'
import { ensureTopics } from '../../src/sinks/kafka/topics.js'
import { registerSchemas } from '../../src/sinks/schema-registry.js'
import { testConfig, testLog } from '../helpers/stack.js'

const cfg = testConfig()
const schemaMap = async () =>
  new Map((await loadSchemas()).map((s) => [s.name as RecordName, s.schema] as [RecordName, AvroType]))

t.test('an Avro record produced with a registry-assigned id is consumed back equal', async (t) => {
  const specs = topicCatalog(cfg.kafka.topics)
  const codec = await registerSchemas(cfg.registryUrl, specs, await schemaMap())
  const kafka = createKafka({
    brokers: cfg.kafka.brokers,
    security: cfg.kafka.security,
    clientId: 'test',
    log: testLog,
  })
  const created = await ensureTopics(kafka, specs, 3, 1)
  t.ok(
    created.includes(cfg.kafka.topics.genesysOutbound) &&
      created.includes(deadLetterTopic(cfg.kafka.topics.errors)) === false,
  )
  t.same(await ensureTopics(kafka, specs, 3, 1), [], 'a second start creates nothing')

  const topic = cfg.kafka.topics.genesysOutbound
  const value: GenesysOutboundEnvelope = {
    tenantId: 'tenant-a',
    integrationId: 'int-1',
    messageId: 'msg-1',
    conversationId: 'conv-1',
    toId: '447700900123',
    receivedAtMs: 1_741_083_242_123,
    payload: Buffer.from('{"raw":"bytes \\u00e9"}'),
    attempt: 0,
    resend: false,
    resendToken: null,
  }
  const encoded = codec.encode(topic, value)
  t.equal(encoded[0], 0, 'magic byte')
  t.equal(encoded.readUInt32BE(1), codec.schemaId(topic), 'schema id from the registry')

  const producer = await createKafkajsProducer(kafka, { lingerMs: 1 })
  await producer.send({ topic, key: 'conv-1', value: encoded })
  await producer.close()

  const consumer = kafka.consumer({ groupId: `${cfg.kafka.groupPrefix}rt-${randomUUID()}` })
  await consumer.connect()
  await consumer.subscribe({ topic, fromBeginning: true })
  const got = await new Promise<Buffer>((resolve) => {
    void consumer.run({ eachMessage: async ({ message }) => resolve(message.value as Buffer) })
  })
  await consumer.disconnect()
  const decoded = await codec.decode<'GenesysOutboundEnvelope'>(topic, got)
  t.same(decoded, value)
  t.ok(Buffer.isBuffer(decoded.payload) && decoded.payload.equals(value.payload), 'raw bytes kept exactly')
})

t.test('an incompatible schema change is refused at start with a clear error', async (t) => {
  const specs = [{ topic: `${cfg.kafka.topics.errors}-compat`, record: 'BridgeErrorEvent' as const, deadLetter: false }]
  const schemas = await schemaMap()
  await registerSchemas(cfg.registryUrl, specs, schemas)
  const original = schemas.get('BridgeErrorEvent') as { fields: { name: string; type: unknown }[] }
  // A new required field without a default: new readers cannot read old records.
  const broken = { ...original, fields: [...original.fields, { name: 'severity', type: 'string' }] }
  const err = await registerSchemas(cfg.registryUrl, specs, new Map([['BridgeErrorEvent', broken as AvroType]])).catch(
    (e: unknown) => e,
  )
  t.ok(isBridgeError(err), 'a BridgeError')
  t.match(String((err as Error).message), /not BACKWARD compatible/)
  t.equal((err as { code: string }).code, 'GWB_SCHEMA_INCOMPATIBLE')

  // A compatible change (new field with a default) is accepted and old records still decode.
  const compatible = {
    ...original,
    fields: [...original.fields, { name: 'severity', type: 'string', default: 'error' }],
  }
  const codec = await registerSchemas(cfg.registryUrl, specs, new Map([['BridgeErrorEvent', compatible as AvroType]]))
  t.ok(codec.schemaId(specs[0]!.topic) > 0)
})

t.test('garbage on a topic is a decode error, not a crash', async (t) => {
  const specs = topicCatalog(cfg.kafka.topics)
  const codec = await registerSchemas(cfg.registryUrl, specs, await schemaMap())
  const topic = cfg.kafka.topics.whatsappStatus
  for (const bad of [Buffer.from('not avro'), Buffer.from([0, 0, 0]), Buffer.from([0, 0x7f, 0xff, 0xff, 0xff, 1, 2])]) {
    const err = await codec.decode(topic, bad).catch((e: unknown) => e)
    t.ok(isBridgeError(err) && err.code === 'GWB_DECODE', `rejected ${bad.toString('hex')}`)
  }
})

t.test('processes starting at once on fresh subjects all register (the compatibility rule race)', async (t) => {
  const specs = [
    {
      topic: `${cfg.kafka.topics.errors}-race-${randomUUID().slice(0, 8)}`,
      record: 'BridgeErrorEvent' as const,
      deadLetter: false,
    },
  ]
  const schemas = await schemaMap()
  const codecs = await Promise.all(Array.from({ length: 6 }, () => registerSchemas(cfg.registryUrl, specs, schemas)))
  const topic = specs[0]?.topic ?? ''
  const ids = new Set(codecs.map((c) => c.encode(topic, sampleError()).readUInt32BE(1)))
  t.equal(ids.size, 1, 'every process got the same schema id')
})

function sampleError() {
  return {
    sourceTopic: 'x',
    partition: 0,
    offset: 0,
    tenantId: null,
    messageId: null,
    conversationId: null,
    code: 'GWB_TEST',
    message: 'race',
    platformCode: null,
    attempts: 1,
    occurredAtMs: 0,
  }
}
