import type { Logger } from '../log.js'
import type { Metrics } from '../metrics.js'
import type { RecordClient } from '../sinks/kafka/record-client.js'
import { startKafkajsGroup } from './kafkajs-group.js'
import type { GroupOptions, RunningGroup } from './group-member.js'
import type { Liveness } from './liveness.js'
import { startPlatformaticGroup } from './platformatic-group.js'
import type { FlowHandler } from './record-runner.js'

/** A member of the flow's consumer group on the configured Kafka client (KAFKA_CLIENT). */
export function startConsumerGroup<T>(
  client: RecordClient,
  handler: FlowHandler<T>,
  opts: GroupOptions,
  deps: { log: Logger; metrics?: Metrics | undefined; liveness?: Liveness | undefined },
): Promise<RunningGroup> {
  return client.name === 'kafkajs'
    ? startKafkajsGroup(client.kafka, handler, opts, deps)
    : startPlatformaticGroup(client.options, handler, opts, deps)
}
