import { randomUUID } from 'node:crypto'
import t from 'tap'
import { createKafka } from '../../../src/sinks/kafka/client.js'
import { openRecordProducer, recordClient } from '../../../src/sinks/kafka/record-client.js'
import { testConfig, testLog } from '../../helpers/stack.js'

t.test('with KAFKA_COMPRESSION=gzip the records come back exactly, in order per key', async (t) => {
  const cfg = testConfig({ KAFKA_COMPRESSION: 'gzip' })
  const kafka = createKafka({
    brokers: cfg.kafka.brokers,
    clientId: 'test-producer-gzip',
    security: cfg.kafka.security,
    log: testLog,
  })
  const topic = `${cfg.kafka.topics.genesysOutbound}-gzip`
  const admin = kafka.admin()
  await admin.connect()
  await admin.createTopics({ topics: [{ topic, numPartitions: 2 }], waitForLeaders: true })
  await admin.disconnect()

  // The configured client's producer (KAFKA_CLIENT); the records are read back with kafkajs.
  const client = recordClient(cfg.kafka.client, kafka, { ...cfg.kafka, clientId: 'test-producer-gzip' })
  const producer = await openRecordProducer(client, { lingerMs: 5, compression: cfg.kafka.compression })
  const sent = Array.from({ length: 40 }, (_, i) => ({ key: `conv-${i % 4}`, value: `${i} ${'x'.repeat(600)}` }))
  // Concurrent sends gather into compressed batches.
  await Promise.all(sent.map((r) => producer.send({ topic, key: r.key, value: Buffer.from(r.value) })))
  await producer.close()

  const consumer = kafka.consumer({ groupId: `${cfg.kafka.groupPrefix}gzip-${randomUUID()}` })
  t.teardown(() => consumer.disconnect())
  await consumer.connect()
  await consumer.subscribe({ topic, fromBeginning: true })
  const got: { key: string; value: string }[] = []
  await new Promise<void>((resolve) => {
    void consumer.run({
      eachMessage: async ({ message }) => {
        got.push({ key: String(message.key), value: String(message.value) })
        if (got.length === sent.length) resolve()
      },
    })
  })
  for (const key of ['conv-0', 'conv-1', 'conv-2', 'conv-3']) {
    const only = (rs: { key: string; value: string }[]): string[] => rs.filter((r) => r.key === key).map((r) => r.value)
    t.same(only(got), only(sent), `${key}: every record, unchanged, in order`)
  }
})
