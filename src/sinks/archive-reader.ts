import { decodeArchiveBatch } from '../processors/archive-batch.js'
import { parseArchiveName, safeSegment, utcDay } from '../processors/object-keys.js'
import type { ObjectStore } from './object-store.js'

export interface ArchivedWebhook {
  /** The object it came from. */
  key: string
  receivedAtMs: number
  /** The record's offset on its partition (0 for the layout before batches). */
  offset: number
  payload: Buffer
}

export interface ArchiveRead {
  webhooks: ArchivedWebhook[]
  /** Objects listed under the tenant's days. */
  listed: number
  /** Lines of batch objects that were not entries. */
  bad: number
}

const DAY_MS = 86_400_000

/**
 * A tenant's archived webhooks received in [since, until), oldest first: both layouts, one
 * webhook per `.json` object (before batching) and many per `.ndjson` object. Receipt order is
 * the order ingest produced them in, which keeps each conversation in order.
 */
export async function readArchive(
  store: ObjectStore,
  bucket: string,
  tenantId: string,
  since: Date,
  until: Date,
): Promise<ArchiveRead> {
  const out: ArchiveRead = { webhooks: [], listed: 0, bad: 0 }
  const inRange = (ms: number): boolean => ms >= since.getTime() && ms < until.getTime()
  for (let day = Date.parse(`${utcDay(since)}T00:00:00.000Z`); day < until.getTime(); day += DAY_MS) {
    const prefix = `${safeSegment(tenantId)}/${utcDay(new Date(day))}/`
    for (const obj of await store.listObjects(bucket, prefix)) {
      out.listed++
      const name = parseArchiveName(obj.key.slice(prefix.length))
      if (name === undefined) continue
      if (!name.batch) {
        if (inRange(name.ms)) {
          const payload = await store.getObject(bucket, obj.key)
          out.webhooks.push({ key: obj.key, receivedAtMs: name.ms, offset: 0, payload })
        }
        continue
      }
      // A batch is named after its earliest webhook; later ones may still fall in the range.
      if (name.ms >= until.getTime()) continue
      const { entries, bad } = decodeArchiveBatch(tenantId, await store.getObject(bucket, obj.key))
      out.bad += bad
      for (const e of entries) {
        if (!inRange(e.receivedAtMs)) continue
        out.webhooks.push({ key: obj.key, receivedAtMs: e.receivedAtMs, offset: e.offset, payload: e.payload })
      }
    }
  }
  // A conversation lives on one partition: within a millisecond its offsets give the order.
  out.webhooks.sort((a, b) => a.receivedAtMs - b.receivedAtMs || a.offset - b.offset)
  return out
}
