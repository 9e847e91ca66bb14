import { createBatcher } from '../batcher.js'
import type { FlowHandler } from '../consumer/record-runner.js'
import { archiveObjects, encodeArchiveBatch, type ArchiveEntry } from '../processors/archive-batch.js'
import { ok } from '../processors/result.js'
import type { DeadLetter } from '../schemas/records.generated.js'
import type { ObjectStore } from '../sinks/object-store.js'
import { deadLetterRecord } from './failure-events.js'

export interface ArchiveItem {
  tenantId: string
  receivedAtMs: number
  /** The conversation outbound, the phone number id inbound. */
  name: string
  payload: Buffer
  metadata: Record<string, string>
}

export interface ArchiveBatching {
  /** Webhooks per flush at most (all tenants together). */
  maxSize: number
  /** How long a webhook waits for others before its flush goes out. */
  maxWaitMs: number
}

/**
 * Raw webhooks to object storage, off the send path: this flow has its own consumer group, so a
 * slow or absent S3 only delays the archive, never a message. Concurrent records share a flush,
 * written as one object per tenant, day and partition; a record is done (its offset committable)
 * only when its object is stored. A failed put throws, which the runner treats as unknown: the
 * offset is held and the record archived again with backoff until S3 is back.
 */
export function archiveFlow(opts: {
  flow: string
  bucket: string
  store: ObjectStore
  decode: (value: Buffer) => Promise<ArchiveItem>
  publishDeadLetter: (d: DeadLetter) => Promise<void>
  now: () => number
  batching?: ArchiveBatching
}): FlowHandler<ArchiveItem> {
  const batcher = createBatcher<ArchiveEntry, string>({
    maxSize: opts.batching?.maxSize ?? 1000,
    maxWaitMs: opts.batching?.maxWaitMs ?? 100,
    flush: async (entries) => {
      const objects = archiveObjects(entries)
      await Promise.all(
        objects.map((o) =>
          opts.store.putObject(opts.bucket, o.key, encodeArchiveBatch(o.entries), 'application/x-ndjson', {
            'webhook-count': String(o.entries.length),
          }),
        ),
      )
      const keyOf = new Map<ArchiveEntry, string>()
      for (const o of objects) for (const e of o.entries) keyOf.set(e, o.key)
      return entries.map((e) => keyOf.get(e) ?? '')
    },
  })
  return {
    flow: opts.flow,
    decode: opts.decode,
    async handle(item, _attempt, record) {
      const key = await batcher.add({ ...item, partition: record.partition, offset: record.offset })
      return ok(key)
    },
    // An archive put has no permanent failure of its own; only an unreadable record dead-letters.
    onFail: async () => {},
    onDeadLetter: (item, error, record, attempts) =>
      opts.publishDeadLetter(deadLetterRecord(record, error, item?.tenantId, attempts, opts.now())),
  }
}
