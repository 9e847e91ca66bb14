import type { Admin } from 'kafkajs'
import { retryUntil } from '../../retry.js'

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
  const r = await retryUntil(
    () => admin.fetchTopicOffsets(topic),
    { baseMs: 200, maxMs: 1000, maxDurationMs: Infinity, maxAttempts: attempts },
    { retryable: (err) => (err as { retriable?: unknown }).retriable === true },
  )
  if (r.ok) return r.value
  throw r.error
}
