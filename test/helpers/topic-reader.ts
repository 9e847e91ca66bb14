import { randomUUID } from 'node:crypto'
import type { Kafka } from 'kafkajs'
import type { RecordName, RecordTypes } from '../../src/schemas/catalog.js'
import type { TopicCodec } from '../../src/sinks/schema-registry.js'
import { fetchTopicOffsets } from '../../src/sinks/kafka/offsets.js'

/** Reads a topic from the beginning until `predicate` holds for a decoded record, or times out. */
export async function waitForRecord<N extends RecordName>(
  kafka: Kafka,
  codec: TopicCodec,
  topic: string,
  predicate: (r: RecordTypes[N]) => boolean,
  timeoutMs = 20_000,
): Promise<RecordTypes[N]> {
  return (await waitForMessage<N>(kafka, codec, topic, predicate, timeoutMs)).record
}

/** Like waitForRecord, with the record's Kafka headers (as strings). */
export async function waitForMessage<N extends RecordName>(
  kafka: Kafka,
  codec: TopicCodec,
  topic: string,
  predicate: (r: RecordTypes[N]) => boolean,
  timeoutMs = 20_000,
): Promise<{ record: RecordTypes[N]; headers: Record<string, string> }> {
  const consumer = kafka.consumer({ groupId: `test-reader-${randomUUID()}` })
  await consumer.connect()
  await consumer.subscribe({ topic, fromBeginning: true })
  const seen: RecordTypes[N][] = []
  try {
    return await new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no matching record on ${topic} within ${timeoutMs} ms; saw ${JSON.stringify(seen)}`)),
        timeoutMs,
      )
      void consumer.run({
        eachMessage: async ({ message }) => {
          if (message.value === null) return
          const r = await codec.decode<N>(topic, message.value)
          seen.push(r)
          if (predicate(r)) {
            clearTimeout(timer)
            const headers = Object.entries(message.headers ?? {}).flatMap(([k, v]): [string, string][] =>
              v === undefined ? [] : [[k, (Array.isArray(v) ? v[0] : v)?.toString() ?? '']],
            )
            resolve({ record: r, headers: Object.fromEntries(headers) })
          }
        },
      })
    })
  } finally {
    await consumer.disconnect()
  }
}

/** Sum of the high watermarks of a topic: grows by one per record produced. */
export async function topicSize(kafka: Kafka, topic: string): Promise<number> {
  const admin = kafka.admin()
  await admin.connect()
  try {
    const offsets = await fetchTopicOffsets(admin, topic)
    return offsets.reduce((n, o) => n + Number(o.high), 0)
  } finally {
    await admin.disconnect()
  }
}

/** Reads a topic from the beginning into an array until stopped (for counting what flows past). */
export async function collectRecords<N extends RecordName>(
  kafka: Kafka,
  codec: TopicCodec,
  topic: string,
): Promise<{ records: RecordTypes[N][]; stop: () => Promise<void> }> {
  const consumer = kafka.consumer({ groupId: `test-collector-${randomUUID()}` })
  await consumer.connect()
  await consumer.subscribe({ topic, fromBeginning: true })
  const records: RecordTypes[N][] = []
  await consumer.run({
    eachMessage: async ({ message }) => {
      if (message.value !== null) records.push(await codec.decode<N>(topic, message.value))
    },
  })
  return { records, stop: () => consumer.disconnect() }
}
