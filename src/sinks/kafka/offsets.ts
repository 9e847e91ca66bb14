import type { Admin } from 'kafkajs'

/**
 * A topic's offsets per partition. Right after topics are created, or while leadership moves, the
 * broker answers NOT_LEADER_FOR_PARTITION (retriable) until the client's metadata catches up, and
 * kafkajs's admin passes that on; ask again a few times before giving up.
 */
export async function fetchTopicOffsets(
  admin: Admin,
  topic: string,
  attempts = 5,
): Promise<Awaited<ReturnType<Admin['fetchTopicOffsets']>>> {
  for (let n = 1; ; n++) {
    try {
      return await admin.fetchTopicOffsets(topic)
    } catch (err) {
      const retriable = (err as { retriable?: unknown }).retriable === true
      if (!retriable || n >= attempts) throw err
      await new Promise((r) => setTimeout(r, 200 * n))
    }
  }
}
