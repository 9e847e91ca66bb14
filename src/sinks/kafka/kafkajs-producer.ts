import { CompressionTypes, Partitioners, type Kafka, type Message, type RecordMetadata } from 'kafkajs'
import type { Metrics } from '../../metrics.js'
import { batchedProducer, type OutRecord, type ProducerOptions, type RecordProducer } from './record-producer.js'

/** Rounds of sendBatch for records kafkajs left unwritten (see unwritten()) before giving up. */
const WRITE_ROUNDS = 5

/**
 * The batched producer on kafkajs: idempotent, acks=all, one request in flight.
 *
 * A sendBatch can resolve without writing some of its records (kafkajs 2.2.4, its issue #1303):
 * its retry after a failed broker re-sends only to brokers that have not answered yet, so
 * partitions whose leadership moved to a broker that already answered for other partitions are
 * dropped. Every record is therefore checked against the partitions the answer names, and the
 * ones left out are sent again; a record is acknowledged only once its partition's write is.
 */
export async function createKafkajsProducer(kafka: Kafka, opts: ProducerOptions): Promise<RecordProducer> {
  // The partition kafkajs picked for each message (of the latest attempt), to check the answer.
  const partitionOf = new WeakMap<Message, number>()
  const producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    // murmur2 like the Java client, so every producer of a topic (ingest, CLI replay, other tools) maps a key to the same partition.
    createPartitioner: () => {
      const pick = Partitioners.DefaultPartitioner()
      return (args) => {
        const partition = pick(args)
        partitionOf.set(args.message, partition)
        return partition
      }
    },
  })
  await producer.connect()
  const compression = opts.compression === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None
  return batchedProducer(
    {
      write: (records) =>
        writeAll(
          records,
          (batch) => producer.sendBatch({ acks: -1, compression, topicMessages: batch }),
          partitionOf,
          opts.metrics,
        ),
      close: () => producer.disconnect(),
    },
    opts,
  )
}

interface Pending {
  topic: string
  message: Message
}

async function writeAll(
  records: readonly OutRecord[],
  sendBatch: (topicMessages: { topic: string; messages: Message[] }[]) => Promise<RecordMetadata[]>,
  partitionOf: WeakMap<Message, number>,
  metrics: Metrics | undefined,
): Promise<void> {
  let left: Pending[] = records.map((r) => ({ topic: r.topic, message: toMessage(r) }))
  for (let round = 1; left.length > 0; round++) {
    if (round > WRITE_ROUNDS) {
      throw new Error(`${left.length} records still unwritten after ${WRITE_ROUNDS} produce rounds`)
    }
    const written = await sendBatch(byTopic(left))
    left = unwritten(left, written, (m) => partitionOf.get(m))
    metrics?.produceResent.inc(left.length)
  }
}

function toMessage(r: OutRecord): Message {
  return r.headers === undefined ? { key: r.key, value: r.value } : { key: r.key, value: r.value, headers: r.headers }
}

function byTopic(pending: readonly Pending[]): { topic: string; messages: Message[] }[] {
  const topics = new Map<string, Message[]>()
  for (const { topic, message } of pending) {
    let list = topics.get(topic)
    if (list === undefined) topics.set(topic, (list = []))
    list.push(message)
  }
  return [...topics].map(([topic, messages]) => ({ topic, messages }))
}

/**
 * The records whose partition the sendBatch answer does not name as written (error code 0): kafkajs
 * never sent them. In order, so a record re-sent keeps its place behind the earlier ones of its key.
 */
function unwritten(
  sent: readonly Pending[],
  answer: readonly RecordMetadata[],
  partitionOf: (m: Message) => number | undefined,
): Pending[] {
  const ok = new Set(answer.filter((a) => a.errorCode === 0).map((a) => `${a.topicName}\n${a.partition}`))
  return sent.filter(({ topic, message }) => {
    const partition = partitionOf(message)
    return partition === undefined || !ok.has(`${topic}\n${partition}`)
  })
}
