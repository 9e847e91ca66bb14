import type { Kafka } from 'kafkajs'
import type { TopicSpec } from '../../schemas/catalog.js'

/**
 * Creates the missing topics with the configured partitions and replication. Existing topics
 * are left as they are: adding partitions would move keys to other partitions and break
 * per-conversation order for records already in flight.
 */
export async function ensureTopics(
  kafka: Kafka,
  specs: readonly TopicSpec[],
  partitions: number,
  replicationFactor: number,
): Promise<string[]> {
  const admin = kafka.admin()
  await admin.connect()
  try {
    const existing = new Set(await admin.listTopics())
    const missing = specs.filter((s) => !existing.has(s.topic))
    if (missing.length > 0) {
      await admin.createTopics({
        waitForLeaders: true,
        topics: missing.map((s) => ({
          topic: s.topic,
          numPartitions: partitions,
          replicationFactor,
          configEntries: [{ name: 'min.insync.replicas', value: String(Math.min(2, replicationFactor)) }],
        })),
      })
    }
    return missing.map((s) => s.topic)
  } finally {
    await admin.disconnect()
  }
}
