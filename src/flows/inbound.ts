import { randomUUID } from 'node:crypto'
import type { FlowHandler, RecordMeta, StepTimer } from '../consumer/record-runner.js'
import { BridgeError } from '../errors.js'
import { repeatableFailure } from '../processors/classify-failure.js'
import { drop, fail, ok, retry, type StageResult } from '../processors/result.js'
import type { MetaInboundItem } from '../processors/split-meta-webhook.js'
import { inboundMediaRef, transformInbound, type InboundMediaRef } from '../processors/transform-inbound.js'
import type { MetaInboundMessage, MetaMediaRef } from '../processors/types/meta.js'
import type { WhatsAppInboundEnvelope } from '../schemas/records.generated.js'
import type { InboundClaim, InboundClaimInput } from '../sinks/db/inbound-claims.js'
import type { Claimer } from '../sinks/db/claims.js'
import type { TrackingWriter } from '../sinks/db/tracking-outcomes.js'
import type { GenesysPostResult } from '../sinks/genesys-client.js'
import type { StoredMedia } from '../sinks/media.js'
import type { MetaClient } from '../sinks/meta-client.js'
import { deadLetterRecord, errorEvent, type CommonPorts } from './failure-events.js'
import type { ConversationMapping } from './outbound.js'

/** Everything the inbound flow talks to; the wiring passes the real sinks, tests may pass others. */
export interface InboundPorts extends CommonPorts {
  decode: (value: Buffer) => Promise<WhatsAppInboundEnvelope>
  /** The tenant's Genesys Open Messaging integration id (channel.to.id of the inbound body). */
  integrationId: (tenantId: string) => Promise<string>
  whatsappCredentials: (tenantId: string) => Promise<{ accessToken: string }>
  mappingByWa: (tenantId: string, waId: string) => Promise<ConversationMapping | undefined>
  learnMapping: (m: ConversationMapping) => Promise<void>
  touchActivity: (tenantId: string, conversationId: string, at: Date) => void
  meta: Pick<MetaClient, 'getMediaUrl' | 'downloadMedia'>
  /** Stores the downloaded media and returns a presigned link Genesys can fetch. */
  storeMedia: (
    tenantId: string,
    mediaType: string,
    media: StoredMedia,
    metadata: Record<string, string>,
  ) => Promise<StageResult<string>>
  mediaMaxBytes: number
  /** POST /api/v2/conversations/messages/{integrationId}/inbound/open/message (401 refresh inside). */
  postMessage: (tenantId: string, body: unknown) => Promise<GenesysPostResult>
  claimer: Claimer
  /** The wamid's claim, owned by this process and record (inbound-claims.ts). */
  claimInbound: (c: Omit<InboundClaimInput, 'leaseMs'>) => Promise<InboundClaim>
  tracking: TrackingWriter
}

interface Prepared {
  env: WhatsAppInboundEnvelope
  item: MetaInboundItem
}

export function inboundFlow(p: InboundPorts): FlowHandler<Prepared> {
  // Claims of this process; a record read again by another process (or after a restart) is another owner.
  const processToken = randomUUID()
  const ownerOf = (r: RecordMeta): string => `${processToken}:${r.topic}:${r.partition}:${r.offset}`
  /** Meta media → our bucket → presigned link (facts §4.3: Meta's URL needs the token and dies in 5 min). */
  const rehost = async (env: WhatsAppInboundEnvelope, ref: InboundMediaRef): Promise<StageResult<string>> => {
    const { accessToken } = await p.whatsappCredentials(env.tenantId)
    const info = await p.meta.getMediaUrl({ mediaId: ref.mediaId, accessToken })
    if (!info.ok) return mediaFailure('media lookup', info)
    const got = await p.meta.downloadMedia({ url: info.url, accessToken, maxBytes: p.mediaMaxBytes })
    if (!got.ok) return mediaFailure('media download', got)
    const contentType = ref.mime === 'application/octet-stream' ? got.contentType : ref.mime
    return p.storeMedia(
      env.tenantId,
      ref.kind,
      { bytes: got.bytes, contentType },
      {
        'meta-media-id': ref.mediaId,
        wamid: env.wamid.slice(0, 256),
        ...(ref.filename === undefined ? {} : { filename: encodeURIComponent(ref.filename).slice(0, 256) }),
      },
    )
  }

  return {
    flow: 'inbound',
    async decode(value) {
      const env = await p.decode(value)
      return { env, item: itemOf(env) }
    },

    async handle({ env, item }, attempt, record, stage) {
      if (env.resend && attempt === 1) {
        await p.tracking.release({
          tenantId: env.tenantId,
          direction: 'inbound',
          messageId: env.wamid,
          reason: 'explicit resend (replay)',
        })
      }
      // Claimed before any work: a redelivered webhook stops here without downloading media again.
      // The owner is this process and record, so the runner's retry after an exception re-takes the
      // claim instead of dropping the message as its own duplicate.
      const claim = await stage('claim', () =>
        p.claimInbound({ tenantId: env.tenantId, wamid: env.wamid, waId: env.waId, owner: ownerOf(record) }),
      )
      if (claim.kind === 'done') return drop(`already handled (${claim.status})`)
      if (claim.kind === 'held') {
        // Another owner is forwarding it or died doing so: wait (this conversation with it) for it
        // to finish or for its lease to pass, then take it over.
        return retry(
          new BridgeError('GWB_CLAIM_HELD', `inbound ${env.wamid} is claimed by another owner`, {
            canRetry: true,
            retryAfterMs: claim.leaseLeftMs,
          }),
        )
      }

      const result = await forward(env, item, stage)
      if (result.kind === 'retry') {
        // Known not stored by Genesys: the claim is released for the next attempt.
        await p.tracking.markRetrying({
          tenantId: env.tenantId,
          direction: 'inbound',
          messageId: env.wamid,
          errorCode: String(result.error.details['httpStatus'] ?? result.error.code),
          errorText: result.error.message,
          at: new Date(p.now()),
        })
        // The row keeps its first transient failure: the retry ceiling counts from it, across restarts.
        if (claim.firstFailedAt !== null) return retry(result.error, claim.firstFailedAt.getTime())
      }
      return result
    },

    async onFail({ env }, error, record, attempts) {
      await p.publishError(errorEvent(record, error, ids(env), attempts, p.now()))
      await p.claimer.claim({ tenantId: env.tenantId, direction: 'inbound', messageId: env.wamid, waId: env.waId })
      await p.tracking.markFailed({
        tenantId: env.tenantId,
        direction: 'inbound',
        messageId: env.wamid,
        errorCode: String(error.details['httpStatus'] ?? error.code),
        errorText: error.message,
        at: new Date(p.now()),
      })
    },

    async onDeadLetter(prepared, error, record, attempts) {
      await p.publishDeadLetter(deadLetterRecord(record, error, prepared?.env.tenantId, attempts, p.now()))
      if (prepared === undefined) return
      await p.tracking.markDeadLettered({
        tenantId: prepared.env.tenantId,
        direction: 'inbound',
        messageId: prepared.env.wamid,
        errorCode: error.code,
        errorText: error.message,
      })
    },
  }

  async function forward(
    env: WhatsAppInboundEnvelope,
    item: MetaInboundItem,
    stage: StepTimer,
  ): Promise<StageResult<string>> {
    const integrationId = await p.integrationId(env.tenantId)
    let mediaUrl: string | undefined
    let sendItem = item
    const ref = inboundMediaRef(item)
    if (ref !== undefined) {
      const linked = await stage('media', () => rehost(env, ref))
      if (linked.kind === 'retry' || linked.kind === 'dead-letter') return linked
      if (linked.kind === 'ok') mediaUrl = linked.value
      // Media Meta will never give us: the agent still learns the customer sent something.
      else {
        const why = linked.kind === 'fail' ? linked.error.message : linked.reason
        p.log.warn({ tenantId: env.tenantId, wamid: env.wamid, why }, 'inbound media lost; forwarded as text')
        sendItem = asText(item, mediaLostText(item, ref, why))
      }
    }
    const body = transformInbound(sendItem, mediaUrl === undefined ? { integrationId } : { integrationId, mediaUrl })
    if (body.kind !== 'ok') return body

    const res = await stage('send', () => p.postMessage(env.tenantId, body.value))
    if (!res.ok) return genesysFailure(res)
    const genesysMessageId = stringField(res.body, 'id')
    p.metrics?.endToEnd.observe({ flow: 'inbound' }, (p.now() - env.receivedAtMs) / 1000)
    await stage('track', () =>
      p.tracking.markSent({
        tenantId: env.tenantId,
        direction: 'inbound',
        messageId: env.wamid,
        ...(genesysMessageId === undefined ? {} : { genesysMessageId }),
        at: new Date(p.now()),
      }),
    )
    await stage('mapping', () => rememberConversation(env, stringField(res.body, 'conversationId')))
    return ok(genesysMessageId ?? '')
  }

  /**
   * First contact: Genesys creates the conversation when it stores the first inbound message. When
   * its answer names the conversation the mapping is stored now; otherwise (the documented answer
   * is the stored message, without it) the outbound flow learns it from the agent's first reply,
   * whose channel.to.id is this customer's wa_id. Known mappings only get their activity touched.
   */
  async function rememberConversation(env: WhatsAppInboundEnvelope, conversationId: string | undefined) {
    const at = new Date(p.now())
    if (conversationId !== undefined) {
      await p.learnMapping({
        tenantId: env.tenantId,
        conversationId,
        waId: env.waId,
        phoneNumberId: env.phoneNumberId,
      })
      p.touchActivity(env.tenantId, conversationId, at)
      return
    }
    const known = await p.mappingByWa(env.tenantId, env.waId)
    if (known !== undefined) p.touchActivity(env.tenantId, known.conversationId, at)
  }
}

function itemOf(env: WhatsAppInboundEnvelope): MetaInboundItem {
  let message: unknown
  try {
    message = JSON.parse(env.item.toString('utf8'))
  } catch {
    throw new BridgeError('GWB_DECODE', `item of ${env.wamid} is not JSON`)
  }
  if (typeof message !== 'object' || message === null || typeof (message as { type?: unknown }).type !== 'string') {
    throw new BridgeError('GWB_DECODE', `item of ${env.wamid} is not a Meta message`)
  }
  return {
    phoneNumberId: env.phoneNumberId,
    displayPhoneNumber: '',
    waId: env.waId,
    timestampMs: env.timestampMs,
    wamid: env.wamid,
    json: env.item.toString('utf8'),
    ...(env.profileName === null ? {} : { profileName: env.profileName }),
    message: message as MetaInboundMessage,
  }
}

function asText(item: MetaInboundItem, body: string): MetaInboundItem {
  const { from, id, timestamp } = item.message
  return { ...item, message: { from, id, timestamp, type: 'text', text: { body } } as MetaInboundMessage }
}

function mediaLostText(item: MetaInboundItem, ref: InboundMediaRef, why: string): string {
  const caption = (item.message[ref.kind] as MetaMediaRef | undefined)?.caption
  const head = `[${ref.kind} could not be retrieved from WhatsApp: ${why}]`
  return caption === undefined || caption === '' ? head : `${caption}\n${head}`
}

function mediaFailure(
  what: string,
  res: {
    status: number
    error: { message: string; code?: number }
    network?: true
    tooLarge?: true
    retryAfterMs?: number
    refused?: string
  },
): StageResult<never> {
  if (res.refused !== undefined) return fail(new BridgeError('GWB_FETCH_REFUSED', `${what} ${res.error.message}`))
  if (res.tooLarge === true) return fail(new BridgeError('GWB_MEDIA', `${what}: media is too large`))
  const text = `${what} failed: HTTP ${res.status} ${res.error.message}`
  return repeatableFailure(res, { transient: 'GWB_MEDIA', permanent: 'GWB_MEDIA' }, text)
}

/**
 * 429 and 5xx retry (429 never sooner than Retry-After). No answer, or a 5xx without Genesys's
 * error body, leaves the outcome unknown: retried too, with the same channel.messageId (the wamid),
 * because an agent seeing a message twice is better than a customer's message lost (whether
 * Genesys deduplicates on it is UNCONFIRMED). Any other answer is permanent: errors topic.
 */
function genesysFailure(res: Extract<GenesysPostResult, { ok: false }>): StageResult<never> {
  const text = `Genesys refused the inbound message: HTTP ${res.status} ${res.error.message}`
  return repeatableFailure(
    res,
    { transient: 'GWB_GENESYS_TRANSIENT', permanent: 'GWB_GENESYS_PERMANENT', auth: 'GWB_GENESYS_AUTH' },
    text,
  )
}

function stringField(body: unknown, name: string): string | undefined {
  if (typeof body !== 'object' || body === null) return undefined
  const v = (body as Record<string, unknown>)[name]
  return typeof v === 'string' && v !== '' ? v : undefined
}

const ids = (env: WhatsAppInboundEnvelope) => ({ tenantId: env.tenantId, messageId: env.wamid })
