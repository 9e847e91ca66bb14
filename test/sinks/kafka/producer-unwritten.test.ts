import type { Kafka, Message, ProducerBatch, ProducerConfig, RecordMetadata } from 'kafkajs'
import t from 'tap'
import { createKafkajsProducer } from '../../../src/sinks/kafka/kafkajs-producer.js'

const partitionMetadata = [0, 1, 2, 3].map((partitionId) => ({
  partitionId,
  leader: 1,
  replicas: [1],
  isr: [1],
  partitionErrorCode: 0,
  offlineReplicas: [],
}))

/**
 * A kafkajs client whose sendBatch partitions every message with the producer's own partitioner,
 * as kafkajs does, and then behaves as kafkajs 2.2.4 does when a partition's leader moves during a
 * sendBatch to a broker that had already answered for other partitions: it resolves, naming only
 * the partitions it wrote, and never writes the first `dropFirst` calls' records of partition 0.
 */
function fakeKafka(dropFirst: number) {
  const log: { topic: string; partition: number; value: string }[] = []
  let calls = 0
  const kafka = {
    producer(config: ProducerConfig) {
      const partitioner = config.createPartitioner?.()
      if (partitioner === undefined) throw new Error('no partitioner')
      return {
        connect: async () => undefined,
        disconnect: async () => undefined,
        async sendBatch(batch: ProducerBatch): Promise<RecordMetadata[]> {
          calls++
          const written = new Set<string>()
          const answer: RecordMetadata[] = []
          for (const { topic = '', messages = [] } of batch.topicMessages ?? []) {
            for (const message of messages as Message[]) {
              const partition = partitioner({ topic, partitionMetadata, message })
              if (partition === 0 && calls <= dropFirst) continue
              log.push({ topic, partition, value: String(message.value) })
              if (written.has(`${topic}/${partition}`)) continue
              written.add(`${topic}/${partition}`)
              answer.push({ topicName: topic, partition, errorCode: 0 })
            }
          }
          return answer
        },
      }
    },
  }
  return { kafka: kafka as unknown as Kafka, log, calls: () => calls }
}

const records = Array.from({ length: 40 }, (_, i) => ({
  topic: 'out',
  key: `conversation-${i % 8}`,
  value: Buffer.from(`m${i}`),
}))

t.test('records kafkajs resolved without writing are sent again before they are acknowledged', async (t) => {
  const fake = fakeKafka(1)
  const producer = await createKafkajsProducer(fake.kafka, { lingerMs: 5 })
  t.teardown(() => producer.close())
  await producer.sendAll(records)
  const values = new Set(fake.log.map((r) => r.value))
  t.equal(values.size, records.length, 'every acknowledged record was written')
  t.ok(
    fake.log.some((r) => r.partition === 0),
    'partition 0 had records (the case is exercised)',
  )
  t.equal(fake.log.length, records.length, 'none written twice')
  // Order per key: the re-sent partition's records keep their order among themselves.
  for (let k = 0; k < 8; k++) {
    const mine = fake.log.filter((r) => records.find((x) => String(x.value) === r.value)?.key === `conversation-${k}`)
    const seq = mine.map((r) => Number(r.value.slice(1)))
    t.same(
      seq,
      [...seq].sort((a, b) => a - b),
      `conversation-${k} in order`,
    )
  }
})

t.test(
  'a partition that is never written fails its records (503 at ingest) instead of acknowledging them',
  async (t) => {
    const fake = fakeKafka(Infinity)
    const producer = await createKafkajsProducer(fake.kafka, { lingerMs: 5 })
    t.teardown(() => producer.close())
    await t.rejects(producer.sendAll(records), { code: 'GWB_KAFKA_UNAVAILABLE' })
    t.ok(fake.calls() > 1, 'sent again before giving up')
  },
)
