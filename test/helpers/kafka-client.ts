import { defaultKafkaClient, kafkaClients, type KafkaClientName } from '../../src/config/config.js'

/** The Kafka client the suite does not run on by default: test/other-kafka-client/ runs the Kafka paths on it. */
export const otherKafkaClient: KafkaClientName =
  kafkaClients.find((c) => c !== defaultKafkaClient) ?? defaultKafkaClient
