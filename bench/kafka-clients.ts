import {
  compatibilityPartitioner,
  Consumer as PltConsumer,
  MessagesStreamFallbackModes,
  MessagesStreamModes,
  ProduceAcks,
  Producer as PltProducer,
  type CommitOptionsPartition,
} from '@platformatic/kafka'
import { Partitioners, type Kafka } from 'kafkajs'
import pino from 'pino'
import { createKafka } from '../src/sinks/kafka/client.js'

/**
 * The two Kafka clients of bench/kafka-client-ab.ts behind one shape, each used the way the
 * bridge uses kafkajs: an idempotent producer (acks=all, one request in flight, murmur2 keys like
 * the Java client) written to in batches, and a consumer group that commits the offsets it has
 * finished itself, every `commitIntervalMs`, instead of auto-committing.
 */
export interface BenchRecord {
  key: Buffer
  value: Buffer
  /** Index of the record in the run, carried in a header: the consumer's latency lookup. */
  seq: number
}

export interface ClientUnderTest {
  /** Writes one batch; resolves once the broker has acknowledged it on all in-sync replicas. */
  produce: (batch: readonly BenchRecord[]) => Promise<void>
  /** Joins the group on `topic` from the earliest offset; resolves once partitions are assigned. */
  consume: (seen: (seq: number) => void) => Promise<void>
  close: () => Promise<void>
}

export const clientNames = ['kafkajs', 'platformatic'] as const
export type ClientName = (typeof clientNames)[number]

export interface ClientOptions {
  brokers: string[]
  topic: string
  groupId: string
  commitIntervalMs: number
}

export function openClient(name: ClientName, o: ClientOptions): Promise<ClientUnderTest> {
  return name === 'kafkajs' ? kafkajsClient(o) : platformaticClient(o)
}

// A failed commit is retried with the next one; the bench counts records, not commits.
const commitFailed = (err: unknown): void => void process.stderr.write(`commit failed: ${String(err)}\n`)

/** Runs `commit` every `intervalMs` (as src/consumer/group-member.ts commits) until the returned stop is called. */
function commitEvery(intervalMs: number, commit: () => Promise<void>): () => void {
  let timer: NodeJS.Timeout | undefined
  let stopped = false
  const loop = (): void => {
    if (!stopped) timer = setTimeout(() => void commit().catch(commitFailed).finally(loop), intervalMs)
  }
  loop()
  return () => {
    stopped = true
    clearTimeout(timer)
  }
}

/** Highest finished offset per partition; commits offset + 1, as both clients expect. */
function offsetBook(): { done: (partition: number, offset: bigint) => void; take: () => [number, bigint][] } {
  const last = new Map<number, bigint>()
  const committed = new Map<number, bigint>()
  return {
    done: (p, o) => void last.set(p, o),
    take: () => {
      const out: [number, bigint][] = []
      for (const [p, o] of last) {
        if (committed.get(p) !== o) out.push([p, o + 1n])
        committed.set(p, o)
      }
      return out
    },
  }
}

async function kafkajsClient(o: ClientOptions): Promise<ClientUnderTest> {
  // The project's client (its idle-loop guard and timeouts), as the bridge runs it.
  const kafka: Kafka = createKafka({
    brokers: o.brokers,
    clientId: 'gwb-bench-client-ab',
    security: { protocol: 'PLAINTEXT', tls: undefined, sasl: undefined },
    log: pino({ level: 'silent' }),
  })
  const producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    createPartitioner: Partitioners.DefaultPartitioner,
  })
  await producer.connect()
  const consumer = kafka.consumer({
    groupId: o.groupId,
    allowAutoTopicCreation: false,
    sessionTimeout: 10_000,
    heartbeatInterval: 3000,
    maxWaitTimeInMs: 50,
    maxBytesPerPartition: 256 * 1024,
  })
  const book = offsetBook()
  let stopCommits = (): void => undefined
  return {
    async produce(batch) {
      await producer.sendBatch({
        acks: -1,
        topicMessages: [
          {
            topic: o.topic,
            messages: batch.map((r) => ({ key: r.key, value: r.value, headers: { seq: String(r.seq) } })),
          },
        ],
      })
    },
    async consume(seen) {
      const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()))
      await consumer.connect()
      await consumer.subscribe({ topic: o.topic, fromBeginning: true })
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: 64,
        eachBatch: async ({ batch, resolveOffset, heartbeat }) => {
          for (const m of batch.messages) {
            seen(Number(m.headers?.['seq']?.toString()))
            resolveOffset(m.offset)
          }
          if (batch.messages.length > 0) book.done(batch.partition, BigInt(batch.lastOffset()))
          await heartbeat()
        },
      })
      const commit = async (): Promise<void> => {
        const offsets = book
          .take()
          .map(([partition, offset]) => ({ topic: o.topic, partition, offset: String(offset) }))
        if (offsets.length > 0) await consumer.commitOffsets(offsets)
      }
      stopCommits = commitEvery(o.commitIntervalMs, commit)
      await joined
    },
    async close() {
      stopCommits()
      await consumer.disconnect()
      await producer.disconnect()
    },
  }
}

async function platformaticClient(o: ClientOptions): Promise<ClientUnderTest> {
  const producer = new PltProducer({
    clientId: 'gwb-bench-client-ab',
    bootstrapBrokers: o.brokers,
    idempotent: true,
    acks: ProduceAcks.ALL,
    autocreateTopics: false,
    // (murmur2 & 0x7fffffff) % partitions like the Java client and kafkajs's default partitioner;
    // its own default (murmur2 >>> 0) maps keys to other partitions.
    partitioner: compatibilityPartitioner,
  })
  const consumer = new PltConsumer({
    clientId: 'gwb-bench-client-ab',
    bootstrapBrokers: o.brokers,
    groupId: o.groupId,
    autocommit: false,
    sessionTimeout: 10_000,
    heartbeatInterval: 3000,
    maxWaitTime: 50,
    maxBytesPerPartition: 256 * 1024,
  })
  const book = offsetBook()
  const epochs = new Map<number, number>()
  const seqHeader = Buffer.from('seq')
  let stopCommits = (): void => undefined
  let stream: Awaited<ReturnType<typeof consumer.consume>> | undefined
  return {
    async produce(batch) {
      await producer.send({
        messages: batch.map((r) => ({
          topic: o.topic,
          key: r.key,
          value: r.value,
          headers: new Map([[seqHeader, Buffer.from(String(r.seq))]]),
        })),
      })
    },
    async consume(seen) {
      const joined = new Promise<void>((resolve) => consumer.once('consumer:group:join', () => resolve()))
      stream = await consumer.consume({
        topics: [o.topic],
        mode: MessagesStreamModes.COMMITTED,
        fallbackMode: MessagesStreamFallbackModes.EARLIEST,
      })
      stream.on('data', (m) => {
        // Header keys are Buffers without a deserializer: the Map is looked up by content, not identity.
        let seq = NaN
        for (const [k, v] of m.headerEntries) if (k.equals(seqHeader)) seq = Number(v.toString())
        seen(seq)
        book.done(m.partition, m.offset)
        epochs.set(m.partition, m.leaderEpoch)
      })
      const commit = async (): Promise<void> => {
        const offsets: CommitOptionsPartition[] = book.take().map(([partition, offset]) => ({
          topic: o.topic,
          partition,
          offset,
          leaderEpoch: epochs.get(partition) ?? -1,
        }))
        if (offsets.length > 0) await consumer.commit({ offsets })
      }
      stopCommits = commitEvery(o.commitIntervalMs, commit)
      await joined
    },
    async close() {
      stopCommits()
      await stream?.close()
      await consumer.close()
      await producer.close()
    },
  }
}
