import type { EnvReader } from './parse-env.js'

/**
 * Where the bridge's four logical buckets (webhooks-outbound, webhooks-inbound, media-outbound,
 * media-inbound) live on the S3 server. S3 bucket names are global, so an installation either gives
 * them a prefix of its own (`acme-prod-webhooks-outbound`) or keeps everything in one bucket it
 * owns, the logical names becoming key prefixes (`s3://acme-gwb/prod/webhooks-outbound/…`).
 */
export type S3Layout =
  | { readonly kind: 'buckets'; readonly bucketPrefix: string }
  | { readonly kind: 'one-bucket'; readonly bucket: string; readonly keyPrefix: string }

/** S3's bucket naming rules (lower case, digits, dots, hyphens; 3 to 63 characters). */
const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/
/** The longest logical name, `webhooks-outbound`, must still fit in 63 characters after the prefix. */
const MAX_BUCKET_PREFIX = 63 - 'webhooks-outbound'.length

export function readS3Layout(r: EnvReader): S3Layout {
  const bucket = r.optionalString('S3_BUCKET')
  const bucketPrefix = r.optionalString('S3_BUCKET_PREFIX') ?? ''
  let keyPrefix = r.optionalString('S3_KEY_PREFIX') ?? ''
  if (bucket === undefined) {
    if (keyPrefix !== '') r.problems.push('S3_KEY_PREFIX is only used with S3_BUCKET (one bucket for everything)')
    if (
      bucketPrefix !== '' &&
      !(/^[a-z0-9][a-z0-9.-]*$/.test(bucketPrefix) && bucketPrefix.length <= MAX_BUCKET_PREFIX)
    ) {
      r.problems.push(
        `S3_BUCKET_PREFIX may hold lower-case letters, digits, "." and "-" (at most ${MAX_BUCKET_PREFIX}), got "${bucketPrefix}"`,
      )
    }
    return { kind: 'buckets', bucketPrefix }
  }
  if (bucketPrefix !== '') r.problems.push('S3_BUCKET_PREFIX and S3_BUCKET are two layouts; set one')
  if (!BUCKET_NAME.test(bucket)) r.problems.push(`S3_BUCKET must be a valid S3 bucket name, got "${bucket}"`)
  if (keyPrefix.startsWith('/') || keyPrefix.split('/').some((s) => s === '.' || s === '..')) {
    r.problems.push(`S3_KEY_PREFIX must be a relative path without "." or ".." segments, got "${keyPrefix}"`)
  }
  if (keyPrefix !== '' && !keyPrefix.endsWith('/')) keyPrefix += '/'
  return { kind: 'one-bucket', bucket, keyPrefix }
}

/** The physical bucket and key prefix of a logical bucket. */
export function s3Location(layout: S3Layout, logical: string): { bucket: string; prefix: string } {
  return layout.kind === 'buckets'
    ? { bucket: `${layout.bucketPrefix}${logical}`, prefix: '' }
    : { bucket: layout.bucket, prefix: `${layout.keyPrefix}${logical}/` }
}
