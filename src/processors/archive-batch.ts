import { archiveBatchKey, utcDay } from './object-keys.js'

/**
 * The archive's object format. One object per tenant, day and partition per flush holds many raw
 * webhooks as NDJSON, one per line, the bytes in base64 so they come back exactly as received.
 * One object per webhook cost the object store more CPU than the whole bridge at 1000 req/s.
 */
export interface ArchiveEntry {
  tenantId: string
  /** Receipt time at ingest. */
  receivedAtMs: number
  /** The conversation outbound, the phone number id inbound. */
  name: string
  partition: number
  offset: number
  metadata: Record<string, string>
  payload: Buffer
}

interface Line {
  receivedAtMs: number
  name: string
  partition: number
  offset: number
  metadata: Record<string, string>
  payload: string
}

export function encodeArchiveBatch(entries: readonly ArchiveEntry[]): Buffer {
  const lines = entries.map((e) => {
    const line: Line = {
      receivedAtMs: e.receivedAtMs,
      name: e.name,
      partition: e.partition,
      offset: e.offset,
      metadata: e.metadata,
      payload: e.payload.toString('base64'),
    }
    return JSON.stringify(line)
  })
  return Buffer.from(`${lines.join('\n')}\n`)
}

const isLine = (v: unknown): v is Line => {
  if (typeof v !== 'object' || v === null) return false
  const o = v as Record<string, unknown>
  return (
    typeof o['receivedAtMs'] === 'number' &&
    typeof o['name'] === 'string' &&
    typeof o['partition'] === 'number' &&
    typeof o['offset'] === 'number' &&
    typeof o['payload'] === 'string' &&
    typeof o['metadata'] === 'object' &&
    o['metadata'] !== null
  )
}

/** Entries of one batch object; a line that is not an entry is counted, not fatal. */
export function decodeArchiveBatch(tenantId: string, body: Buffer): { entries: ArchiveEntry[]; bad: number } {
  const entries: ArchiveEntry[] = []
  let bad = 0
  for (const text of body.toString('utf8').split('\n')) {
    if (text === '') continue
    let v: unknown
    try {
      v = JSON.parse(text)
    } catch {
      bad++
      continue
    }
    if (!isLine(v)) {
      bad++
      continue
    }
    entries.push({
      tenantId,
      receivedAtMs: v.receivedAtMs,
      name: v.name,
      partition: v.partition,
      offset: v.offset,
      metadata: v.metadata,
      payload: Buffer.from(v.payload, 'base64'),
    })
  }
  return { entries, bad }
}

/**
 * Entries grouped into objects: one per tenant (its own prefix), UTC day (what replay and
 * retention list by) and partition, named after the group's first record. A record redelivered
 * after a crash may land in a second object; archive replay feeds each message id once.
 */
export function archiveObjects(entries: readonly ArchiveEntry[]): { key: string; entries: ArchiveEntry[] }[] {
  const groups = new Map<string, ArchiveEntry[]>()
  for (const e of entries) {
    const g = `${e.tenantId}\u0000${utcDay(new Date(e.receivedAtMs))}\u0000${e.partition}`
    let list = groups.get(g)
    if (list === undefined) groups.set(g, (list = []))
    list.push(e)
  }
  return [...groups.values()].map((list) => {
    const first = list.reduce((a, b) => (b.offset < a.offset ? b : a))
    return {
      key: archiveBatchKey({
        tenantId: first.tenantId,
        receivedAt: new Date(Math.min(...list.map((e) => e.receivedAtMs))),
        partition: first.partition,
        firstOffset: first.offset,
        count: list.length,
      }),
      entries: list,
    }
  })
}
