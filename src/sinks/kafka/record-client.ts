import type { BaseOptions } from '@platformatic/kafka'
import type { Kafka } from 'kafkajs'
import type { KafkaClientName } from '../../config/config.js'
import { createKafkajsProducer } from './kafkajs-producer.js'
import { createPlatformaticProducer } from './platformatic-producer.js'
import { platformaticOptions } from './platformatic-client.js'
import type { ProducerOptions, RecordProducer } from './record-producer.js'

/**
 * The Kafka client that carries the records (KAFKA_CLIENT): every produce and every consumer group
 * of the flows. Admin work (topics, lag, offsets, the CLI's scans) is kafkajs's either way.
 */
export type RecordClient =
  { readonly name: 'kafkajs'; readonly kafka: Kafka } | { readonly name: 'platformatic'; readonly options: BaseOptions }

export function recordClient(
  name: KafkaClientName,
  kafka: Kafka,
  connection: Parameters<typeof platformaticOptions>[0],
): RecordClient {
  return name === 'kafkajs' ? { name, kafka } : { name, options: platformaticOptions(connection) }
}

export function openRecordProducer(client: RecordClient, opts: ProducerOptions): Promise<RecordProducer> {
  return client.name === 'kafkajs'
    ? createKafkajsProducer(client.kafka, opts)
    : createPlatformaticProducer(client.options, opts)
}
