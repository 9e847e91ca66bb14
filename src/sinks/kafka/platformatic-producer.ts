import {
  CompressionAlgorithms,
  compatibilityPartitioner,
  ProduceAcks,
  Producer,
  stringSerializer,
  type BaseOptions,
  type Partitioner,
} from '@platformatic/kafka'
import { batchedProducer, type ProducerOptions, type RecordProducer } from './record-producer.js'

/**
 * The batched producer on @platformatic/kafka: idempotent (which the library runs with acks=all and
 * one request in flight), acks=all. A send resolves only when every broker it wrote to answered
 * for all of its partitions and rejects otherwise, so the re-send of records left unwritten that
 * kafkajs needs (its #1303) has nothing to catch here.
 */
export async function createPlatformaticProducer(options: BaseOptions, opts: ProducerOptions): Promise<RecordProducer> {
  const producer = new Producer<Buffer, Buffer, string, string>({
    ...options,
    idempotent: true,
    acks: ProduceAcks.ALL,
    autocreateTopics: false,
    partitioner: keyOrRoundRobin(),
    compression: opts.compression === 'gzip' ? CompressionAlgorithms.GZIP : CompressionAlgorithms.NONE,
    serializers: { headerKey: stringSerializer, headerValue: stringSerializer },
  })
  // Connects and takes a producer id now, so a broker that is away fails the start, not the first webhook.
  await producer.initIdempotentProducer({})
  return batchedProducer(
    {
      write: async (records) => {
        await producer.send({
          messages: records.map((r) => ({
            topic: r.topic,
            ...(r.key === null ? {} : { key: Buffer.from(r.key) }),
            value: r.value,
            ...(r.headers === undefined ? {} : { headers: r.headers }),
          })),
        })
      },
      close: () => producer.close(),
    },
    opts,
  )
}

/**
 * A key's partition is (murmur2 & 0x7fffffff) % partitions like the Java client and kafkajs (the
 * library's own default, murmur2 >>> 0, maps keys elsewhere and would move conversations on a
 * switch). Records without a key take turns, as with kafkajs, instead of all landing on partition 0.
 */
function keyOrRoundRobin(): Partitioner<Buffer, Buffer, string, string> {
  let next = 0
  return (message, key) => (key === undefined ? next++ & 0x7fffffff : compatibilityPartitioner(message, key))
}
