import type { Admin, Kafka } from 'kafkajs'
import { BridgeError } from '../../errors.js'
import type { TopicSpec } from '../../schemas/catalog.js'
import { retryUntil } from '../../retry.js'

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
  /** With acks=all a write needs this many replicas in sync: 2 of 3 survives the loss of one broker. */
  minInsyncReplicas = Math.min(2, replicationFactor),
): Promise<string[]> {
  const admin = kafka.admin()
  await admin.connect()
  try {
    const existing = new Set(await admin.listTopics())
    const missing = specs.filter((s) => !existing.has(s.topic))
    if (missing.length > 0) {
      // kafkajs's own waitForLeaders can throw UNKNOWN_TOPIC_OR_PARTITION while the new topics'
      // metadata spreads (several processes starting at once); wait for the leaders ourselves.
      await admin.createTopics({
        waitForLeaders: false,
        topics: missing.map((s) => ({
          topic: s.topic,
          numPartitions: partitions,
          replicationFactor,
          configEntries: [{ name: 'min.insync.replicas', value: String(minInsyncReplicas) }],
        })),
      })
    }
    await waitForLeaders(
      admin,
      specs.map((s) => s.topic),
    )
    return missing.map((s) => s.topic)
  } finally {
    await admin.disconnect()
  }
}

async function waitForLeaders(admin: Admin, topics: string[], timeoutMs = 30_000): Promise<void> {
  const r = await retryUntil(
    async () => {
      const { topics: meta } = await admin.fetchTopicMetadata({ topics })
      if (meta.length === topics.length && meta.every((t) => t.partitions.every((p) => p.leader >= 0))) return
      throw new Error(`topics have no leaders after ${timeoutMs} ms: ${topics.join(', ')}`)
    },
    { baseMs: 100, maxMs: 100, jitter: 0, maxDurationMs: timeoutMs },
  )
  if (!r.ok) throw r.error
}

/**
 * For a process started without the right to create topics: refuses to start when a topic of the
 * catalog is missing (created by `gwb setup` beforehand). Describe rights suffice.
 */
export async function checkTopics(kafka: Kafka, specs: readonly TopicSpec[]): Promise<void> {
  const admin = kafka.admin()
  await admin.connect()
  try {
    const existing = new Set(await admin.listTopics())
    const missing = specs.filter((s) => !existing.has(s.topic)).map((s) => s.topic)
    if (missing.length > 0) {
      throw new BridgeError(
        'GWB_SETUP_REQUIRED',
        `topic(s) ${missing.join(', ')} do not exist: run \`gwb setup\` first (or allow topic creation at start with START_SETUP)`,
        { details: { missing } },
      )
    }
  } finally {
    await admin.disconnect()
  }
}
