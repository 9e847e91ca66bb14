import type { FlowHandler, StepTimer } from '../consumer/record-runner.js'
import { BridgeError } from '../errors.js'
import { pairLimitDelay } from '../processors/backoff.js'
import { classifyMetaError, receiptReasonForExhausted } from '../processors/classify-meta-error.js'
import { receiptReasonForError } from '../processors/build-receipt.js'
import { parseGenesysWebhook } from '../processors/parse-genesys-webhook.js'
import { drop, fail, ok, retry, type StageResult } from '../processors/result.js'
import { needsMedia, transformOutbound, type MediaNeed } from '../processors/transform-outbound.js'
import type { MetaSendBody } from '../processors/types/meta.js'
import type { GenesysOutbound, GenesysReasonCode } from '../processors/types/genesys.js'
import type { GenesysOutboundEnvelope } from '../schemas/records.generated.js'
import type { Claimer, TrackingWriter } from '../sinks/db/tracking.js'
import type { MetaClient, MetaSendResult } from '../sinks/meta-client.js'
import type { Semaphore } from '../semaphore.js'
import { deadLetterRecord, errorEvent, type CommonPorts } from './failure-events.js'

export interface ConversationMapping {
  tenantId: string
  conversationId: string
  waId: string
  phoneNumberId: string
}

/** Everything the outbound flow talks to; the wiring passes the real sinks, tests may pass others. */
export interface OutboundPorts extends CommonPorts {
  decode: (value: Buffer) => Promise<GenesysOutboundEnvelope>
  mappingByConversation: (tenantId: string, conversationId: string) => Promise<ConversationMapping | undefined>
  /** The tenant's known customer with this wa_id (a reply without a conversation id). */
  mappingByWa: (tenantId: string, waId: string) => Promise<ConversationMapping | undefined>
  learnMapping: (m: ConversationMapping) => Promise<void>
  whatsappCredentials: (tenantId: string) => Promise<{ accessToken: string; phoneNumberId: string }>
  /** Downloads a Genesys attachment, stores it, returns a presigned link (or a failure outcome). */
  rehostMedia: (tenantId: string, need: MediaNeed) => Promise<StageResult<string>>
  claimer: Claimer
  tracking: TrackingWriter
  /** Status and claim time of a message someone else claimed (for in-doubt decisions). */
  claimState: (tenantId: string, messageId: string) => Promise<{ status: string; claimedAt: Date | null } | undefined>
  /**
   * One slot per connection to Meta, taken BEFORE the claim: a claimed message must go on the
   * wire at once, not wait in a connection queue, because a crash between claim and send loses it.
   */
  sendSlots: Semaphore
  /** Waits for the number's shared send budget, so the bridge never causes 130429 itself. */
  sendRate: (phoneNumberId: string) => Promise<void>
  /** Meta answered 130429: the number's shared budget is lowered for a while. */
  slowSendRate: (phoneNumberId: string) => Promise<void>
  /** Cap of the per-customer wait after consecutive 131056 (pair rate limit) answers. */
  pairRetryMaxMs: number
  /** How long a claim held by another owner may stay unresolved before it counts as in doubt. */
  claimLeaseMs: number
  meta: MetaClient
  sendFailedReceipt: (
    tenantId: string,
    r: { messageId: string; toId: string; reason: GenesysReasonCode; text: string },
  ) => Promise<void>
  touchActivity: (tenantId: string, conversationId: string, at: Date) => void
}

interface Prepared {
  env: GenesysOutboundEnvelope
  msg: GenesysOutbound
}

/** wa_ids are digits; anything else in channel.to.id is not a WhatsApp customer we can reach. */
const waIdPattern = /^\d{6,20}$/

export function outboundFlow(p: OutboundPorts): FlowHandler<Prepared> {
  const resolveRecipient = async (env: GenesysOutboundEnvelope): Promise<ConversationMapping | undefined> => {
    const conv = env.conversationId
    const mapped = conv === null ? undefined : await p.mappingByConversation(env.tenantId, conv)
    if (mapped !== undefined && mapped.tenantId === env.tenantId) return mapped
    if (env.toId === null || !waIdPattern.test(env.toId)) return undefined
    // No conversation id at all (facts §1.2: it may be absent): channel.to.id echoes the customer id
    // we sent inbound, so a customer this tenant knows is found by it. A first contact with neither
    // is refused (InvalidDestination): no conversation to key it by or to learn a mapping for.
    if (conv === null) return p.mappingByWa(env.tenantId, env.toId)
    // Genesys echoes the customer id we sent inbound as channel.to.id: learn the mapping from it
    // so an agent's first reply finds its customer even when the cache and table have no row yet.
    const creds = await p.whatsappCredentials(env.tenantId)
    const learned = { tenantId: env.tenantId, conversationId: conv, waId: env.toId, phoneNumberId: creds.phoneNumberId }
    await p.learnMapping(learned)
    return learned
  }

  /**
   * Someone else holds the claim. A finished message (sent, failed, dead-lettered) is a duplicate;
   * one whose attempt failed and is known not sent ('retrying') may be claimed here.
   * A claim still open is either another member finishing it during a rebalance (wait, so this
   * conversation's next message cannot overtake it) or a member that died between claim and answer:
   * then Meta may or may not have it, and with no idempotency key a resend could double it. After
   * the lease it is reported in doubt (errors topic) and not resent; an operator can resend it.
   */
  const heldElsewhere = async (env: GenesysOutboundEnvelope): Promise<StageResult<unknown> | 'claimable'> => {
    const deadline = p.now() + p.claimLeaseMs
    for (;;) {
      const state = await p.claimState(env.tenantId, env.messageId)
      // 'retrying' is not done: treating it as a duplicate would let this conversation's next
      // message overtake it while its owner backs off.
      if (state?.status === 'retrying') return 'claimable'
      if (state === undefined || state.status !== 'claimed') return drop('already handled (dedup claim held)')
      const claimedAt = state.claimedAt?.getTime() ?? 0
      if (p.now() >= Math.max(deadline, claimedAt + p.claimLeaseMs)) {
        p.log.warn({ messageId: env.messageId, tenantId: env.tenantId }, 'send outcome in doubt; not resent')
        return fail(
          new BridgeError(
            'GWB_SEND_IN_DOUBT',
            'a previous owner claimed this message and stopped before recording the outcome; not resent',
            {
              details: { inDoubt: true },
            },
          ),
        )
      }
      await new Promise((r) => setTimeout(r, 200))
    }
  }

  /**
   * Claims the message and sends it, or learns that it is someone else's. The rate budget and a
   * connection are taken first, so a claimed message goes on the wire at once.
   */
  const claimAndSend = async (
    env: GenesysOutboundEnvelope,
    mapping: ConversationMapping,
    creds: { accessToken: string; phoneNumberId: string },
    body: MetaSendBody,
    stage: StepTimer,
  ): Promise<{ kind: 'sent'; res: MetaSendResult } | StageResult<unknown>> => {
    for (;;) {
      await stage('rate', () => p.sendRate(creds.phoneNumberId))
      const release = await p.sendSlots.acquire()
      try {
        const owned = await stage('claim', () =>
          p.claimer.claim({
            tenantId: env.tenantId,
            direction: 'outbound',
            messageId: env.messageId,
            conversationId: mapping.conversationId,
            waId: mapping.waId,
          }),
        )
        if (owned) {
          const res = await stage('send', () =>
            p.meta.sendMessage({ phoneNumberId: creds.phoneNumberId, accessToken: creds.accessToken, body }),
          )
          return { kind: 'sent', res }
        }
      } finally {
        release()
      }
      const held = await heldElsewhere(env)
      // The other owner's attempt failed and is known not sent: claim it here, in this order.
      if (held !== 'claimable') return held
    }
  }

  return {
    flow: 'outbound',
    async decode(value) {
      const env = await p.decode(value)
      const parsed = parseGenesysWebhook(env.payload, Number.MAX_SAFE_INTEGER)
      if (!parsed.ok) throw new BridgeError('GWB_DECODE', `payload no longer parses: ${parsed.reason}`)
      return { env, msg: parsed.value }
    },
    traceIds: ({ env }) => env,

    async handle({ env, msg }, attempt, _record, stage) {
      if (msg.type === 'Event' || msg.type === 'Receipt') return drop(`${msg.type} is not a message`)
      const mapping = await stage('mapping', () => resolveRecipient(env))
      if (mapping === undefined) {
        return fail(
          new BridgeError(
            'GWB_NO_MAPPING',
            `no WhatsApp customer is mapped to conversation ${env.conversationId ?? '(none)'}`,
            {
              details: { receiptReason: 'InvalidDestination' },
            },
          ),
        )
      }
      let mediaLink: string | undefined
      const need = needsMedia(msg)
      if (need !== undefined) {
        const linked = await stage('media', () => p.rehostMedia(env.tenantId, need))
        if (linked.kind !== 'ok') return linked
        mediaLink = linked.value
      }
      const body = transformOutbound(
        msg,
        mediaLink === undefined ? { to: mapping.waId } : { to: mapping.waId, mediaLink },
      )
      if (body.kind !== 'ok') return body

      if (env.resend && attempt === 1) {
        await p.tracking.release({
          tenantId: env.tenantId,
          direction: 'outbound',
          messageId: env.messageId,
          reason: 'explicit resend (replay)',
        })
      }
      const creds = await p.whatsappCredentials(env.tenantId)
      const sent = await claimAndSend(env, mapping, creds, body.value, stage)
      if (sent.kind !== 'sent') return sent
      const res = sent.res
      if (res.ok) {
        p.metrics?.endToEnd.observe({ flow: 'outbound' }, (p.now() - env.receivedAtMs) / 1000)
        await stage('track', () =>
          p.tracking.markSent({
            tenantId: env.tenantId,
            direction: 'outbound',
            messageId: env.messageId,
            wamid: res.wamid,
            at: new Date(p.now()),
          }),
        )
        p.touchActivity(env.tenantId, mapping.conversationId, new Date(p.now()))
        return ok(res.wamid)
      }
      const c = classifyMetaError(res)
      const details = { ...c.error.details, receiptReason: c.receiptReason }
      if (c.action === 'fail' || c.action === 'unknown-outcome') {
        // Outcome unknown (no answer after the request went out, a 5xx without Meta's body, a 2xx
        // without a wamid): Meta may have delivered it and has no idempotency key, so an automatic
        // resend could double it. Dead-letter for an operator to decide.
        const error =
          c.action === 'fail'
            ? new BridgeError(c.error.code, c.error.message, { details })
            : new BridgeError('GWB_META_TRANSIENT', `${c.error.message} (outcome unknown, not resent)`, {
                details: { ...details, outcomeUnknown: true },
              })
        return c.action === 'fail' ? fail(error) : { kind: 'dead-letter', error }
      }
      await p.tracking.markRetrying({
        tenantId: env.tenantId,
        direction: 'outbound',
        messageId: env.messageId,
        errorCode: String(res.error.code ?? res.status),
        errorText: c.error.message,
      })
      if (res.error.code === 130429) await p.slowSendRate(creds.phoneNumberId)
      const retryAfterMs =
        c.action === 'throttle-recipient' ? pairLimitDelay(attempt, p.pairRetryMaxMs) : c.error.retryAfterMs
      return retry(new BridgeError(c.error.code, c.error.message, { canRetry: true, details, retryAfterMs }))
    },

    async onFail({ env }, error, record, attempts) {
      await p.publishError(errorEvent(record, error, ids(env), attempts, p.now()))
      // In doubt: it may have been delivered, so neither the row nor the agent is told it failed.
      if (error.code === 'GWB_SEND_IN_DOUBT') return
      // Failures before the claim (no mapping, bad content) have no row yet: claiming creates it,
      // and a row that exists already is just marked.
      await p.claimer.claim({ tenantId: env.tenantId, direction: 'outbound', messageId: env.messageId })
      await p.tracking.markFailed({
        tenantId: env.tenantId,
        direction: 'outbound',
        messageId: env.messageId,
        errorCode: String(error.details['metaCode'] ?? error.code),
        errorText: error.message,
        at: new Date(p.now()),
      })
      await sendReceipt(env, error, receiptReasonForError(error))
    },

    async onDeadLetter(prepared, error, record, attempts) {
      await p.publishDeadLetter(deadLetterRecord(record, error, prepared?.env.tenantId, attempts, p.now()))
      if (prepared === undefined) return
      const { env } = prepared
      await p.tracking.markDeadLettered({
        tenantId: env.tenantId,
        direction: 'outbound',
        messageId: env.messageId,
        errorCode: error.code,
        errorText: error.message,
      })
      // Outcome unknown (no answer after the request went out): Meta may deliver it, even after this
      // conversation's next message, so the agent is not told it failed; the operator decides.
      if (error.details['outcomeUnknown'] === true) return
      // The agent learns now; a re-drive that succeeds later is still delivered once.
      await sendReceipt(env, error, receiptReasonForExhausted(error.code))
    },
  }

  async function sendReceipt(env: GenesysOutboundEnvelope, error: BridgeError, reason: GenesysReasonCode) {
    if (env.toId === null) return
    await p.sendFailedReceipt(env.tenantId, { messageId: env.messageId, toId: env.toId, reason, text: error.message })
  }
}

const ids = (env: GenesysOutboundEnvelope) => ({
  tenantId: env.tenantId,
  messageId: env.messageId,
  conversationId: env.conversationId,
})
