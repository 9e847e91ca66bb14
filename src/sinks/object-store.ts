import { Agent } from 'node:http'
import { Agent as HttpsAgent } from 'node:https'
import type { Readable } from 'node:stream'
import { Client, IamAwsProvider, S3Error, type LifecycleRule } from 'minio'
import { s3Location, type S3Layout } from '../config/s3-layout.js'

/**
 * The S3 side of the bridge: the raw-webhook archive and the media store. Any S3 API server
 * (MinIO in docker-compose, S3Proxy locally, AWS S3) behind the `minio` client, path-style so a
 * bucket name never has to resolve as a host name.
 */

export interface ObjectStoreOptions {
  /** `http://127.0.0.1:9000`; scheme decides TLS, a missing port means 80/443. */
  endpoint: string
  /** Static keys; without them the AWS credential chain (web identity token file, container, instance role). */
  accessKey?: string | undefined
  secretKey?: string | undefined
  sessionToken?: string | undefined
  region: string
  /** Where the logical buckets live (default: a bucket each, under their own names). */
  layout?: S3Layout
  /** Instance metadata endpoint of the credential chain (default http://169.254.169.254). */
  iamEndpoint?: string
}

export interface StoredObject {
  key: string
  size: number
  lastModified: Date
}

export interface ObjectHead {
  size: number
  lastModified: Date
  contentType: string | undefined
  /** User metadata (x-amz-meta-*), keys lower-cased as S3 returns them. */
  metadata: Record<string, string>
}

export type RetentionMode = 'lifecycle' | 'sweep-needed'

export interface ObjectStore {
  ensureBuckets(names: readonly string[]): Promise<void>
  putObject(
    bucket: string,
    key: string,
    body: Buffer,
    contentType: string,
    metadata?: Record<string, string>,
  ): Promise<void>
  getObject(bucket: string, key: string): Promise<Buffer>
  headObject(bucket: string, key: string): Promise<ObjectHead>
  /**
   * `response` becomes the signed response-content-type / response-content-disposition query
   * parameters: S3 (and S3Proxy) then serve the object with those headers whatever is stored.
   */
  presignGet(
    bucket: string,
    key: string,
    expirySeconds: number,
    response?: { contentType?: string; contentDisposition?: string },
  ): Promise<string>
  listObjects(bucket: string, prefix: string): Promise<StoredObject[]>
  removeObjects(bucket: string, keys: readonly string[]): Promise<void>
  applyRetention(bucket: string, days: number): Promise<RetentionMode>
  /** Deletes objects older than `olderThan`, under `prefix` (default: the whole bucket). */
  sweepExpired(bucket: string, olderThan: Date, prefix?: string): Promise<number>
  close(): void
}

export class ObjectStoreError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'ObjectStoreError'
  }
}

/** S3 DeleteObjects takes at most 1000 keys per request. */
const DELETE_BATCH = 1000
/** SigV4 presigned URLs are valid for at most 7 days. */
const MAX_PRESIGN_SECONDS = 7 * 24 * 3600
const RETENTION_RULE_ID = 'gwb-retention'
/** Headers the client reports next to user metadata; they are not the caller's metadata. */
const SYSTEM_HEADERS = new Set([
  'content-type',
  'cache-control',
  'content-encoding',
  'content-disposition',
  'content-language',
  'x-amz-website-redirect-location',
])

export function createObjectStore(opts: ObjectStoreOptions): ObjectStore {
  const url = new URL(opts.endpoint)
  const useSSL = url.protocol === 'https:'
  if (!useSSL && url.protocol !== 'http:') {
    throw new ObjectStoreError(`S3 endpoint must be http:// or https://, got ${opts.endpoint}`)
  }
  // Our own keep-alive agent, so close() can release the sockets (the client has no close).
  const agent = useSSL
    ? new HttpsAgent({ keepAlive: true, maxSockets: 64 })
    : new Agent({ keepAlive: true, maxSockets: 64 })
  const client = new Client({
    endPoint: url.hostname,
    port: url.port === '' ? (useSSL ? 443 : 80) : Number(url.port),
    useSSL,
    region: opts.region,
    pathStyle: true,
    transportAgent: agent,
    ...(opts.accessKey !== undefined && opts.secretKey !== undefined
      ? { accessKey: opts.accessKey, secretKey: opts.secretKey, sessionToken: opts.sessionToken }
      : // The library's own chain: AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN (EKS), the ECS
        // container endpoint, then the instance role from the metadata service; refreshed before expiry.
        { credentialsProvider: new IamAwsProvider({ customEndpoint: opts.iamEndpoint }) }),
  })
  const layout: S3Layout = opts.layout ?? { kind: 'buckets', bucketPrefix: '' }
  /** Physical bucket and full key of a logical bucket's key: the only place the layout is applied. */
  const at = (bucket: string, key: string): [string, string] => {
    const l = s3Location(layout, bucket)
    return [l.bucket, `${l.prefix}${key}`]
  }

  async function removeObjects(bucket: string, keys: readonly string[]): Promise<void> {
    const [physical, prefix] = at(bucket, '')
    for (let i = 0; i < keys.length; i += DELETE_BATCH) {
      const batch = keys.slice(i, i + DELETE_BATCH)
      const results = await client.removeObjects(
        physical,
        batch.map((k) => `${prefix}${k}`),
      )
      const failed = results.filter((r) => r?.Error !== undefined)
      if (failed.length > 0) {
        const first = failed[0]?.Error
        throw new ObjectStoreError(
          `could not delete ${failed.length} of ${batch.length} objects from ${bucket}: ${first?.Key ?? '?'}: ${first?.Code ?? ''} ${first?.Message ?? ''}`,
        )
      }
    }
  }

  async function listObjects(bucket: string, prefix: string): Promise<StoredObject[]> {
    const out: StoredObject[] = []
    const [physical, full] = at(bucket, prefix)
    const strip = full.length - prefix.length
    const stream = client.listObjectsV2(physical, full, true)
    await new Promise<void>((resolve, reject) => {
      stream.on('data', (item) => {
        if (item.name !== undefined) {
          out.push({ key: item.name.slice(strip), size: item.size, lastModified: item.lastModified })
        }
      })
      stream.on('error', reject)
      stream.on('end', () => resolve())
    })
    return out
  }

  async function lifecycleRules(physical: string): Promise<LifecycleRule[]> {
    try {
      return (await client.getBucketLifecycle(physical))?.Rule ?? []
    } catch (err) {
      if ((err as { code?: unknown }).code === 'NoSuchLifecycleConfiguration') return []
      throw err
    }
  }

  return {
    async ensureBuckets(names) {
      for (const name of new Set(names.map((n) => at(n, '')[0]))) {
        if (await client.bucketExists(name)) continue
        try {
          await client.makeBucket(name, opts.region)
        } catch (err) {
          // Another process (a second replica at start) created it between our check and create.
          if (!(
            err instanceof S3Error &&
            (err.code === 'BucketAlreadyOwnedByYou' || err.code === 'BucketAlreadyExists')
          )) {
            throw err
          }
        }
      }
    },

    async putObject(bucket, key, body, contentType, metadata = {}) {
      const meta: Record<string, string> = {}
      for (const [k, v] of Object.entries(metadata)) meta[k.toLowerCase()] = headerSafe(v)
      meta['Content-Type'] = contentType
      await client.putObject(...at(bucket, key), body, body.length, meta)
    },

    async getObject(bucket, key) {
      return readAll(await client.getObject(...at(bucket, key)))
    },

    async headObject(bucket, key) {
      const stat = await client.statObject(...at(bucket, key))
      const metadata: Record<string, string> = {}
      let contentType: string | undefined
      for (const [k, v] of Object.entries(stat.metaData)) {
        const lower = k.toLowerCase()
        if (lower === 'content-type') contentType = String(v)
        else if (!SYSTEM_HEADERS.has(lower) && !lower.startsWith('x-amz-')) metadata[lower] = String(v)
      }
      return { size: stat.size, lastModified: stat.lastModified, contentType, metadata }
    },

    async presignGet(bucket, key, expirySeconds, response) {
      if (!Number.isInteger(expirySeconds) || expirySeconds < 1 || expirySeconds > MAX_PRESIGN_SECONDS) {
        throw new ObjectStoreError(`presign expiry must be 1..${MAX_PRESIGN_SECONDS} seconds, got ${expirySeconds}`)
      }
      const headers: Record<string, string> = {}
      if (response?.contentType !== undefined) headers['response-content-type'] = response.contentType
      if (response?.contentDisposition !== undefined)
        headers['response-content-disposition'] = response.contentDisposition
      return client.presignedGetObject(...at(bucket, key), expirySeconds, headers)
    },

    listObjects,
    removeObjects,

    async applyRetention(bucket, days) {
      if (!Number.isInteger(days) || days < 1) throw new ObjectStoreError(`retention days must be >= 1, got ${days}`)
      const [physical, prefix] = at(bucket, '')
      try {
        // One bucket shared by logical buckets (or installations): each keeps its own rule for its
        // own prefix, and the rules of the others are kept.
        const id = prefix === '' ? RETENTION_RULE_ID : `${RETENTION_RULE_ID}:${prefix}`
        const others = prefix === '' ? [] : (await lifecycleRules(physical)).filter((x) => x.ID !== id)
        await client.setBucketLifecycle(physical, {
          Rule: [...others, { ID: id, Status: 'Enabled', Filter: { Prefix: prefix }, Expiration: { Days: days } }],
        })
        return 'lifecycle'
      } catch (err) {
        // S3Proxy (and some other S3-compatible servers) answer 501 NotImplemented for bucket
        // lifecycle; the archive then relies on sweepExpired, run periodically by the archive role.
        if (isNotImplemented(err)) return 'sweep-needed'
        throw err
      }
    },

    async sweepExpired(bucket, olderThan, prefix = '') {
      const cutoff = olderThan.getTime()
      const expired = (await listObjects(bucket, prefix))
        .filter((o) => o.lastModified.getTime() < cutoff)
        .map((o) => o.key)
      await removeObjects(bucket, expired)
      return expired.length
    },

    close() {
      agent.destroy()
    },
  }
}

function isNotImplemented(err: unknown): boolean {
  if (!(err instanceof Error)) return false
  const e = err as Error & { code?: unknown; statusCode?: unknown }
  return e.code === 'NotImplemented' || e.statusCode === 501
}

/**
 * S3 user metadata travels as HTTP headers, which carry only visible ASCII: anything else
 * (a UTF-8 display name in a header we archive) is percent-encoded rather than failing the write.
 */
function headerSafe(v: string): string {
  return /^[\x20-\x7e]*$/.test(v) ? v : encodeURIComponent(v)
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array))
  return Buffer.concat(chunks)
}
