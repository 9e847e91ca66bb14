// test/flows/outbound-kill.test.ts on the Kafka client that is not the default (KAFKA_CLIENT), so both stay shown.
import { otherKafkaClient } from '../helpers/kafka-client.js'

process.env['KAFKA_CLIENT'] = otherKafkaClient
await import('../flows/outbound-kill.test.js')
