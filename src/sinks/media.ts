import { BridgeError, errorMessage } from '../errors.js'
import { genesysDownloadPolicy, metaDownloadPolicy, type DownloadHostsConfig } from '../processors/fetch-policy.js'
import { checkMediaType, extensionOf } from '../processors/media-type.js'
import { BUCKETS, mediaKey } from '../processors/object-keys.js'
import { repeatableFailure } from '../processors/classify-failure.js'
import { fail, ok, retry, type StageResult } from '../processors/result.js'
import type { MediaNeed } from '../processors/transform-outbound.js'
import type { ByteBudget } from '../semaphore.js'
import type { GenesysApi } from './genesys-api.js'
import type { FetchOutcome, MediaFetcher } from './media-fetch.js'
import type { MetaDownloadResult } from './meta-client.js'
import type { ObjectStore } from './object-store.js'

/** Meta and Genesys fetch the link themselves, possibly much later than the send: 24 hours. */
export const presignSeconds = 24 * 3600

export interface StoredMedia {
  bytes: Buffer
  contentType: string
}

export interface MediaRehostOptions {
  store: ObjectStore
  genesys: GenesysApi
  fetcher: MediaFetcher
  /** Bytes of media in flight in this process: downloads reserve in the fetcher, stores hold here. */
  budget: ByteBudget
  maxBytes: number
  hosts: DownloadHostsConfig
  /** GENESYS_API_URL: when set, the tenants' Genesys API origin. */
  genesysApiUrl: string | undefined
  now: () => number
}

/**
 * Re-hosts media so the other platform can fetch it: Genesys attachment URLs may need our token
 * and Meta media URLs always do and expire in 5 minutes, so neither can be handed over as is.
 * Every download goes through the fetch policy; every stored object has an allowed type that
 * matches its bytes (outbound: anything else is refused, WhatsApp would refuse it too; inbound: a
 * customer's other files are kept as application/octet-stream) and is served as an attachment.
 */
export function createMediaRehost(opts: MediaRehostOptions) {
  const storeAndSign = async (
    direction: 'outbound' | 'inbound',
    tenantId: string,
    mediaType: string,
    media: StoredMedia,
    meta: Record<string, string>,
  ): Promise<StageResult<string>> => {
    const bucket = direction === 'outbound' ? BUCKETS.mediaOutbound : BUCKETS.mediaInbound
    const key = mediaKey({
      tenantId,
      mediaType: mediaType.toLowerCase(),
      mimeType: media.contentType,
      at: new Date(opts.now()),
    })
    // Stored and served as a download, never as a page on the storage origin (S3 cannot send
    // X-Content-Type-Options, so the type itself must be one no browser renders as a document).
    const disposition = `attachment; filename="${downloadName(meta['filename'], key, media.contentType)}"`
    // The bytes exist already: counted, not waited for, so the next download sees them.
    const release = opts.budget.hold(media.bytes.length)
    try {
      await opts.store.putObject(bucket, key, media.bytes, media.contentType, {
        ...meta,
        'content-disposition': disposition,
      })
      const link = await opts.store.presignGet(bucket, key, presignSeconds, {
        contentType: media.contentType,
        contentDisposition: disposition,
      })
      return ok(link)
    } catch (err) {
      // Object storage away: the message waits (retries) and dead-letters if it stays away.
      return retry(new BridgeError('GWB_MEDIA', `media store unavailable: ${errorMessage(err)}`, { canRetry: true }))
    } finally {
      release()
    }
  }

  return {
    async outbound(tenantId: string, need: MediaNeed): Promise<StageResult<string>> {
      const { accessToken, region } = await opts.genesys.tokenFor(tenantId)
      const policy = genesysDownloadPolicy(region, opts.genesysApiUrl, opts.hosts)
      // Facts §1.3: whether download URLs need auth is unconfirmed, so try a plain GET first and
      // present the token only when asked, and only where the policy lets it go.
      const res = await opts.fetcher.get(need.url, {
        rules: policy.rules,
        maxBytes: opts.maxBytes,
        bearer: { token: accessToken, rule: policy.bearer, when: 'on-401-403' },
      })
      if (!res.ok) return downloadFailure('attachment download', res, opts.maxBytes)
      const type = checkMediaType(need.mime ?? res.contentType, res.bytes)
      if (!type.ok) {
        return fail(
          new BridgeError('GWB_MEDIA_TYPE', `attachment refused: ${type.reason} (declared ${type.declared})`, {
            details: { receiptReason: 'MediaTypeNotAllowed', refusal: type.reason },
          }),
        )
      }
      return storeAndSign(
        'outbound',
        tenantId,
        need.mediaType,
        { bytes: res.bytes, contentType: type.contentType },
        {
          'original-url': need.url.slice(0, 512),
          ...(need.filename === undefined ? {} : { filename: encodeURIComponent(need.filename).slice(0, 256) }),
        },
      )
    },

    storeInbound(tenantId: string, mediaType: string, media: StoredMedia, meta: Record<string, string>) {
      const type = checkMediaType(media.contentType, media.bytes)
      // A customer may send any file as a document: kept, but never under a type a browser renders.
      const contentType = type.ok ? type.contentType : 'application/octet-stream'
      return storeAndSign('inbound', tenantId, mediaType, { bytes: media.bytes, contentType }, meta)
    },
  }
}

export type MediaRehost = ReturnType<typeof createMediaRehost>

/**
 * Step 2 of a Meta media download (the URL Graph answered), under the fetch policy: Meta's media
 * hosts (META_MEDIA_HOSTS, normalised) and the Graph host, the WhatsApp token to those only.
 */
export function metaMediaDownload(
  fetcher: MediaFetcher,
  opts: { mediaHosts: readonly string[]; graphUrl: string; hosts: DownloadHostsConfig },
): (req: { url: string; accessToken: string; maxBytes: number }) => Promise<MetaDownloadResult> {
  const policy = metaDownloadPolicy(opts.mediaHosts, opts.graphUrl, opts.hosts)
  return async (req) => {
    const res = await fetcher.get(req.url, {
      rules: policy.rules,
      maxBytes: req.maxBytes,
      bearer: { token: req.accessToken, rule: policy.bearer, when: 'always' },
    })
    if (res.ok) return { ok: true, bytes: res.bytes, contentType: res.contentType ?? 'application/octet-stream' }
    return asPlatformFailure(res)
  }
}

/**
 * A download name safe inside a quoted header value: the sender's name (or the object's), always
 * ending in the extension of the type it is served as, so a saved file opens as what it was checked to be.
 */
function downloadName(encodedFilename: string | undefined, key: string, contentType: string): string {
  let name = key.slice(key.lastIndexOf('/') + 1)
  if (encodedFilename !== undefined) {
    try {
      name = decodeURIComponent(encodedFilename)
    } catch {
      // keep the object's name
    }
  }
  const ext = extensionOf(contentType)
  const safe = name.replace(/[^A-Za-z0-9._ -]/g, '_').slice(0, 100) || 'file'
  return safe.toLowerCase().endsWith(`.${ext}`) ? safe : `${safe}.${ext}`
}

/** A failed download as the platform clients report failures; nothing of a fetched body in it. */
function asPlatformFailure(res: Exclude<FetchOutcome, { ok: true }>) {
  switch (res.kind) {
    case 'refused':
      return { ok: false as const, status: 0, error: { message: refusalText(res) }, refused: res.reason }
    case 'status':
      return {
        ok: false as const,
        status: res.status,
        error: { message: `HTTP ${res.status}` },
        ...(res.retryAfterMs === undefined ? {} : { retryAfterMs: res.retryAfterMs }),
      }
    case 'too-large':
      return { ok: false as const, status: res.status, error: { message: 'too large' }, tooLarge: true as const }
    case 'network':
      return {
        ok: false as const,
        status: 0,
        error: { message: res.message },
        network: true as const,
        ...(res.code === undefined ? {} : { networkCode: res.code }),
      }
  }
}

function refusalText(res: { reason: string; detail: string }): string {
  return `refused by the fetch policy: ${res.reason} (${res.detail})`
}

/** Outbound download failures: refusals and 4xx are permanent (with a receipt), the rest retry. */
function downloadFailure(what: string, res: Exclude<FetchOutcome, { ok: true }>, maxBytes: number): StageResult<never> {
  switch (res.kind) {
    case 'refused':
      return fail(
        new BridgeError('GWB_FETCH_REFUSED', `${what} ${refusalText(res)}`, {
          details: { receiptReason: 'GeneralError', refusal: res.reason },
        }),
      )
    case 'too-large':
      return fail(
        new BridgeError('GWB_MEDIA', `${what}: larger than ${maxBytes} bytes`, {
          details: { receiptReason: 'InvalidMediaContentLength' },
        }),
      )
    case 'network':
      return retry(new BridgeError('GWB_MEDIA', `${what} failed: ${res.message}`, { canRetry: true }))
    case 'status': {
      const text = `${what} failed: HTTP ${res.status}`
      return repeatableFailure(res, { transient: 'GWB_MEDIA', permanent: 'GWB_MEDIA' }, text, {
        receiptReason: 'GeneralError',
      })
    }
  }
}
