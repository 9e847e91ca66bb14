import { BridgeError, errorMessage } from '../errors.js'
import { BUCKETS, mediaKey } from '../processors/object-keys.js'
import { repeatableFailure } from '../processors/classify-failure.js'
import { fail, ok, retry, type StageResult } from '../processors/result.js'
import type { MediaNeed } from '../processors/transform-outbound.js'
import type { GenesysApi } from './genesys-api.js'
import type { ObjectStore } from './object-store.js'

const mediaBuckets = { outbound: BUCKETS.mediaOutbound, inbound: BUCKETS.mediaInbound } as const
/** Meta and Genesys fetch the link themselves, possibly much later than the send: 24 hours. */
export const presignSeconds = 24 * 3600

export interface StoredMedia {
  bytes: Buffer
  contentType: string
}

/**
 * Re-hosts media so the other platform can fetch it: Genesys attachment URLs may need our token
 * and Meta media URLs always do and expire in 5 minutes, so neither can be handed over as is.
 */
export function createMediaRehost(opts: {
  store: ObjectStore
  genesys: GenesysApi
  maxBytes: number
  now: () => number
}) {
  const storeAndSign = async (
    direction: keyof typeof mediaBuckets,
    tenantId: string,
    mediaType: string,
    media: StoredMedia,
    meta: Record<string, string>,
  ): Promise<StageResult<string>> => {
    const bucket = mediaBuckets[direction]
    const key = mediaKey({
      tenantId,
      mediaType: mediaType.toLowerCase(),
      mimeType: media.contentType,
      at: new Date(opts.now()),
    })
    try {
      await opts.store.putObject(bucket, key, media.bytes, media.contentType, meta)
      return ok(await opts.store.presignGet(bucket, key, presignSeconds))
    } catch (err) {
      // Object storage away: the message waits (retries) and dead-letters if it stays away.
      return retry(new BridgeError('GWB_MEDIA', `media store unavailable: ${errorMessage(err)}`, { canRetry: true }))
    }
  }

  return {
    async outbound(tenantId: string, need: MediaNeed): Promise<StageResult<string>> {
      const { accessToken, client } = await opts.genesys.tokenFor(tenantId)
      const res = await client.downloadAttachment({ url: need.url, accessToken, maxBytes: opts.maxBytes })
      if (!res.ok) {
        if (res.tooLarge === true) {
          return fail(
            new BridgeError('GWB_MEDIA', `attachment is larger than ${opts.maxBytes} bytes`, {
              details: { receiptReason: 'InvalidMediaContentLength' },
            }),
          )
        }
        const text = `attachment download failed: HTTP ${res.status} ${res.error.message}`
        return repeatableFailure(res, { transient: 'GWB_MEDIA', permanent: 'GWB_MEDIA' }, text, {
          receiptReason: 'GeneralError',
        })
      }
      const contentType = need.mime ?? res.contentType
      return storeAndSign(
        'outbound',
        tenantId,
        need.mediaType,
        { bytes: res.bytes, contentType },
        {
          'original-url': need.url.slice(0, 512),
          ...(need.filename === undefined ? {} : { filename: encodeURIComponent(need.filename).slice(0, 256) }),
        },
      )
    },
    storeInbound(tenantId: string, mediaType: string, media: StoredMedia, meta: Record<string, string>) {
      return storeAndSign('inbound', tenantId, mediaType, media, meta)
    },
  }
}

export type MediaRehost = ReturnType<typeof createMediaRehost>
