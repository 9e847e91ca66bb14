import { randomUUID } from 'node:crypto'
import { extensionOf } from './media-type.js'

/**
 * Object keys of the raw-webhook archive and the media store. Pure functions: the archive sink,
 * the media stage and replay-from-archive all derive the same key from the same inputs.
 */

export const BUCKETS = {
  webhooksOutbound: 'webhooks-outbound',
  webhooksInbound: 'webhooks-inbound',
  mediaOutbound: 'media-outbound',
  mediaInbound: 'media-inbound',
} as const

export type BucketName = (typeof BUCKETS)[keyof typeof BUCKETS]

export const ALL_BUCKETS: readonly BucketName[] = Object.values(BUCKETS)

const MAX_SEGMENT = 128

/**
 * One path segment from an id that arrives from outside (a tenant id, a Genesys conversation id).
 * S3 keys are flat, but every S3 browser, `aws s3 sync` to disk and the filesystem-backed servers
 * treat `/` as a directory separator and may resolve `.` and `..`: a hostile id must not climb out
 * of its tenant's prefix or land in another's. Dots are replaced too, so no segment can be `..`.
 */
export function safeSegment(id: string): string {
  const s = id.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, MAX_SEGMENT)
  return s === '' ? '_' : s
}

/** yyyy-MM-dd in UTC, so a key's day does not depend on the machine's time zone. */
export function utcDay(at: Date): string {
  return at.toISOString().slice(0, 10)
}

export interface ArchiveKeyInput {
  tenantId: string
  conversationId: string
  /** Receipt time at ingest (the record's timestamp), not the time the archive sink ran. */
  receivedAt: Date
  /**
   * Distinguishes two webhooks of one conversation in the same millisecond. The archive sink
   * passes the record's `{partition}-{offset}`, which also makes a re-archived record (replay,
   * redelivery) overwrite its own object instead of adding a copy.
   */
  discriminator?: string
}

/** `{tenantId}/{yyyy-MM-dd}/{timestamp}-{conversationId}[-{discriminator}].json`, timestamp in epoch ms. */
export function archiveKey(input: ArchiveKeyInput): string {
  const ms = input.receivedAt.getTime()
  if (!Number.isFinite(ms)) throw new RangeError('archiveKey: receivedAt is not a valid date')
  const suffix = input.discriminator === undefined ? '' : `-${safeSegment(input.discriminator)}`
  return `${safeSegment(input.tenantId)}/${utcDay(input.receivedAt)}/${ms}-${safeSegment(input.conversationId)}${suffix}.json`
}

export interface ArchiveBatchKeyInput {
  tenantId: string
  /** The earliest receipt time in the object. */
  receivedAt: Date
  partition: number
  firstOffset: number
  count: number
}

/** `{tenantId}/{yyyy-MM-dd}/{earliest ms}-p{partition}-o{first offset}-n{count}.ndjson`: many webhooks. */
export function archiveBatchKey(input: ArchiveBatchKeyInput): string {
  const ms = input.receivedAt.getTime()
  if (!Number.isFinite(ms)) throw new RangeError('archiveBatchKey: receivedAt is not a valid date')
  const tail = `p${Math.trunc(input.partition)}-o${Math.trunc(input.firstOffset)}-n${Math.trunc(input.count)}`
  return `${safeSegment(input.tenantId)}/${utcDay(input.receivedAt)}/${ms}-${tail}.ndjson`
}

/**
 * What an archive object's name (the part after `{tenant}/{day}/`) says: its (earliest) receipt
 * time, and whether it holds many webhooks (`.ndjson`) or one (`.json`, the layout before batches).
 */
export function parseArchiveName(name: string): { ms: number; batch: boolean } | undefined {
  const m = /^(\d+)-[^/]*\.(ndjson|json)$/.exec(name)
  if (m === null) return undefined
  return { ms: Number(m[1]), batch: m[2] === 'ndjson' }
}

/**
 * File extension for a MIME type. WhatsApp voice notes arrive as `audio/ogg; codecs=opus`, so
 * parameters and case are ignored; anything unknown is stored as `bin`.
 */
export const extensionForMime = extensionOf

export interface MediaKeyInput {
  tenantId: string
  /** WhatsApp's media kind: image, document, audio, video, sticker. */
  mediaType: string
  mimeType: string
  at: Date
  /** Defaults to a random UUID; pass one to make the key reproducible. */
  id?: string
}

/** `{tenantId}/{mediaType}/{yyyy-MM-dd}/{uuid}.{ext}` */
export function mediaKey(input: MediaKeyInput): string {
  const id = safeSegment(input.id ?? randomUUID())
  return `${safeSegment(input.tenantId)}/${safeSegment(input.mediaType)}/${utcDay(input.at)}/${id}.${extensionForMime(input.mimeType)}`
}
