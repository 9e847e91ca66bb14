import type { FlowHandler } from '../consumer/record-runner.js'
import { archiveKey } from '../processors/object-keys.js'
import { ok } from '../processors/result.js'
import type { DeadLetter } from '../schemas/records.generated.js'
import type { ObjectStore } from '../sinks/object-store.js'
import { deadLetterRecord } from './failure-events.js'

export interface ArchiveItem {
  tenantId: string
  receivedAtMs: number
  /** Used in the object name: the conversation outbound, the phone number id inbound. */
  name: string
  payload: Buffer
  metadata: Record<string, string>
}

/**
 * Raw webhooks to object storage, off the send path: this flow has its own consumer group, so a
 * slow or absent S3 only delays the archive, never a message. A failed put throws, which the runner
 * treats as unknown: the offset is held and the put retried with backoff until S3 is back.
 */
export function archiveFlow(opts: {
  flow: string
  bucket: string
  store: ObjectStore
  decode: (value: Buffer) => Promise<ArchiveItem>
  publishDeadLetter: (d: DeadLetter) => Promise<void>
  now: () => number
}): FlowHandler<ArchiveItem> {
  return {
    flow: opts.flow,
    decode: opts.decode,
    orderingKey: (record) => `${record.partition}:${record.offset}`,
    async handle(item, _attempt, record) {
      const key = archiveKey({
        tenantId: item.tenantId,
        conversationId: item.name,
        receivedAt: new Date(item.receivedAtMs),
        discriminator: `${record.partition}-${record.offset}`,
      })
      await opts.store.putObject(opts.bucket, key, item.payload, 'application/json', item.metadata)
      return ok(key)
    },
    // An archive put has no permanent failure of its own; only an unreadable record dead-letters.
    onFail: async () => {},
    onDeadLetter: (item, error, record, attempts) =>
      opts.publishDeadLetter(deadLetterRecord(record, error, item?.tenantId, attempts, opts.now())),
  }
}
