import type { FlowHandler, StepTimer } from '../consumer/record-runner.js'
import { BridgeError } from '../errors.js'
import { pairLimitDelay } from '../processors/backoff.js'
import { classifyMetaError, receiptReasonForExhausted } from '../processors/classify-meta-error.js'
import { receiptReasonForError } from '../processors/build-receipt.js'
import { parseGenesysWebhook } from '../processors/parse-genesys-webhook.js'
import { callbackDataFor } from '../processors/callback-data.js'
import { deadLetter, drop, fail, ok, retry, type StageResult } from '../processors/result.js'
import { needsMedia, transformOutbound, type MediaNeed } from '../processors/transform-outbound.js'
import type { MetaSendBody } from '../processors/types/meta.js'
import type { GenesysOutbound } from '../processors/types/genesys.js'
import type { GenesysOutboundEnvelope } from '../schemas/records.generated.js'
import type { SettlementStore } from '../sinks/db/settlement.js'
import type { Claimer } from '../sinks/db/claims.js'
import type { TrackingWriter } from '../sinks/db/tracking-outcomes.js'
import type { MetaClient, MetaSendResult } from '../sinks/meta-client.js'
import type { Semaphore } from '../semaphore.js'
import { deadLetterRecord, errorEvent, type CommonPorts } from './failure-events.js'
import { payOwedReceipt, type ReceiptPorts } from './outbound-receipts.js'
import { awaitOutcome, finishedOutcome, isFinished, settlementCounter, type Outcome } from './outbound-settlement.js'

export interface ConversationMapping {
  tenantId: string
  conversationId: string
  waId: string
  phoneNumberId: string
}

/** Everything the outbound flow talks to; the wiring passes the real sinks, tests may pass others. */
export interface OutboundPorts extends CommonPorts, ReceiptPorts {
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
  /** Row state, the one automatic resend, resend tokens (see outbound-settlement.ts). */
  settlement: Pick<SettlementStore, 'state' | 'takeForResend' | 'useResendToken'>
  reconcileWindowMs: number
  settlePollMs: number
  /** Waits while a send's outcome is settled; false at shutdown (retry.ts `sleep`; tests may fake it). */
  sleep: (ms: number, signal?: AbortSignal) => Promise<boolean>
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
  meta: MetaClient
  touchActivity: (tenantId: string, conversationId: string, at: Date) => void
}

interface Prepared {
  env: GenesysOutboundEnvelope
  msg: GenesysOutbound
}

/** wa_ids are digits; anything else in channel.to.id is not a WhatsApp customer we can reach. */
const waIdPattern = /^\d{6,20}$/

export function outboundFlow(p: OutboundPorts): FlowHandler<Prepared> {
  const settlement = p.metrics === undefined ? undefined : settlementCounter(p.metrics.registry)

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

  /** Ends a wait on the row: settled (by a status or its owner), handled, or in doubt for good. */
  const settled = async (
    env: GenesysOutboundEnvelope,
    o: Exclude<Outcome, { kind: 'claimable' | 'resend-due' }>,
    mine: boolean,
    stage: StepTimer,
  ): Promise<StageResult<unknown>> => {
    if (o.kind === 'finished') {
      // Its owner may have died between the move and the receipt: the receipt is produced here.
      await stage('receipt', () => payOwedReceipt(p, env))
      return drop('already handled (dead-lettered; a re-drive carries a resend token)')
    }
    // Shutdown: nothing is marked; the runner abandons this retry and the next owner waits on the row.
    if (o.kind === 'aborted') {
      return retry(new BridgeError('GWB_CLAIM_HELD', 'shutdown while its outcome was settled', { canRetry: true }))
    }
    if (o.kind === 'unsettled') {
      settlement?.inc({ outcome: 'unsettled' })
      p.log.warn(
        { messageId: env.messageId, tenantId: env.tenantId },
        'send unsettled: resent once, no status named it',
      )
      return deadLetter(
        new BridgeError(
          'GWB_SEND_UNSETTLED',
          'outcome unknown: no status named this message within the reconciliation window, after one resend',
          { details: { outcomeUnknown: true } },
        ),
      )
    }
    if (o.state.settledByStatus) settlement?.inc({ outcome: 'settled_by_status' })
    if (o.state.status === 'failed') {
      // Failed by its owner: a receipt it owed and did not produce is produced here. Failed by a
      // status: the status flow gave the agent its receipt, and the row owes nothing.
      await stage('receipt', () => payOwedReceipt(p, env))
      return drop('already handled (failed)')
    }
    // Its owner (another member, a killed process) finished it: a duplicate here.
    if (!mine) return drop('already handled (its owner recorded the outcome, or a status did)')
    if (env.conversationId !== null) p.touchActivity(env.tenantId, env.conversationId, new Date(p.now()))
    return ok(o.state.wamid)
  }

  /**
   * Claims the message and sends it, or waits on its row while its outcome is unknown. The rate
   * budget and a connection are taken first, so a claimed message goes on the wire at once.
   * `due`, once a resend is found due: the claim version the row is taken at for it.
   */
  const claimAndSend = async (
    env: GenesysOutboundEnvelope,
    mapping: ConversationMapping,
    creds: { accessToken: string; phoneNumberId: string },
    body: MetaSendBody,
    stage: StepTimer,
    signal: AbortSignal | undefined,
  ): Promise<{ kind: 'sent'; res: MetaSendResult } | StageResult<unknown>> => {
    const ref = { tenantId: env.tenantId, messageId: env.messageId }
    let due: number | undefined
    // This process put it on the wire (its outcome unknown): a settled row is its own success.
    let sentHere = false
    for (;;) {
      await stage('rate', () => p.sendRate(creds.phoneNumberId))
      const release = await p.sendSlots.acquire()
      let res: MetaSendResult | undefined
      try {
        const owned = await stage('claim', () =>
          due === undefined
            ? p.claimer.claim({
                ...ref,
                direction: 'outbound',
                conversationId: mapping.conversationId,
                waId: mapping.waId,
              })
            : p.settlement.takeForResend({ ...ref, attempts: due }),
        )
        if (owned && due !== undefined) {
          settlement?.inc({ outcome: 'resent' })
          p.log.warn({ ...ref }, 'no status named this send within the reconciliation window: resent once')
        }
        if (owned) {
          res = await stage('send', () =>
            p.meta.sendMessage({
              phoneNumberId: creds.phoneNumberId,
              accessToken: creds.accessToken,
              body: withCallback(env, body, due !== undefined),
            }),
          )
        }
      } finally {
        release()
      }
      if (res !== undefined && (res.ok || res.outcomeUnknown !== true)) return { kind: 'sent', res }
      sentHere ||= res !== undefined
      // Held elsewhere, or our answer left the outcome unknown: the row settles it.
      const o = await stage('settle', () => awaitOutcome(p, ref, signal))
      if (o.kind === 'claimable') due = undefined
      else if (o.kind === 'resend-due') due = o.attempts
      else return settled(env, o, sentHere, stage)
    }
  }

  /**
   * The row is read only where it can change the outcome: when the claim is lost (claimAndSend) and
   * here, when the work before the claim failed. A redelivered copy of a message already handled
   * (restart, rebalance, a commit held back) is then dropped, not failed, so an agent never gets a
   * Failed receipt for a message that went out; one whose send is in doubt waits for its settlement
   * first. Reading the row before every message instead cost a statement per message (issue 15).
   */
  const beforeClaim = async (
    env: GenesysOutboundEnvelope,
    failure: StageResult<unknown>,
    stage: StepTimer,
    signal: AbortSignal | undefined,
  ): Promise<StageResult<unknown>> => {
    const ref = { tenantId: env.tenantId, messageId: env.messageId }
    const prior = await stage('claim', () => p.settlement.state(ref))
    if (prior === undefined) return failure
    if (isFinished(prior)) return settled(env, finishedOutcome(prior), false, stage)
    if (prior.status !== 'claimed') return failure
    const o = await stage('settle', () => awaitOutcome(p, ref, signal))
    return o.kind === 'claimable' || o.kind === 'resend-due' ? failure : settled(env, o, false, stage)
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

    async handle({ env, msg }, attempt, record, stage, signal) {
      if (msg.type === 'Event' || msg.type === 'Receipt') return drop(`${msg.type} is not a message`)
      const ref = { tenantId: env.tenantId, messageId: env.messageId }
      if (env.resend) {
        // Older resend records carry no token: their place in the topic is one (a redelivery has it too).
        const token = env.resendToken ?? `record:${record.topic}:${record.partition}:${record.offset}`
        await stage('claim', () => p.settlement.useResendToken({ ...ref, token, reason: 'explicit resend (replay)' }))
      }
      const result = await deliver(env, msg, attempt, stage, signal)
      if (result.kind !== 'retry') return result
      // The row keeps its first transient failure: the retry ceiling counts from it, across restarts.
      const since = (await p.settlement.state(ref))?.firstFailedAt?.getTime()
      return since === undefined ? result : retry(result.error, since)
    },

    async onFail({ env }, error, record, attempts) {
      await p.publishError(errorEvent(record, error, ids(env), attempts, p.now()))
      // Failures before the claim (no mapping, bad content) have no row yet: claiming creates it,
      // and a row that exists already is just marked. A receipt is owed only with the move to
      // failed (never for a message already sent) and is produced until paid, so a crash or a
      // Genesys refusal in between does not lose it.
      await p.claimer.claim({ tenantId: env.tenantId, direction: 'outbound', messageId: env.messageId })
      await p.tracking.markFailed({
        tenantId: env.tenantId,
        direction: 'outbound',
        messageId: env.messageId,
        errorCode: String(error.details['metaCode'] ?? error.code),
        errorText: error.message,
        at: new Date(p.now()),
        ...(env.toId === null ? {} : { receiptOwed: receiptReasonForError(error) }),
      })
      await payOwedReceipt(p, env)
    },

    async onDeadLetter(prepared, error, record, attempts) {
      await p.publishDeadLetter(deadLetterRecord(record, error, prepared?.env.tenantId, attempts, p.now()))
      if (prepared === undefined) return
      const { env } = prepared
      // As in onFail: a row is created when none exists, and a receipt is owed only with the move.
      // Unsettled (resent once, no status named it): Meta may have it, so the agent is not told it
      // failed; `gwb in-doubt list` shows it to the operator. Otherwise the agent learns now; a
      // re-drive that succeeds later is still delivered once.
      const tell = error.details['outcomeUnknown'] !== true && env.toId !== null
      await p.claimer.claim({ tenantId: env.tenantId, direction: 'outbound', messageId: env.messageId })
      await p.tracking.markDeadLettered({
        tenantId: env.tenantId,
        direction: 'outbound',
        messageId: env.messageId,
        errorCode: error.code,
        errorText: error.message,
        ...(tell ? { receiptOwed: receiptReasonForExhausted(error.code) } : {}),
      })
      await payOwedReceipt(p, env)
    },
  }

  /** Maps, transforms and sends a message; a failure before the claim is checked against its row. */
  async function deliver(
    env: GenesysOutboundEnvelope,
    msg: GenesysOutbound,
    attempt: number,
    stage: StepTimer,
    signal: AbortSignal | undefined,
  ): Promise<StageResult<unknown>> {
    const prepared = await prepare(env, msg, stage)
    if (prepared.kind !== 'ok') return beforeClaim(env, prepared, stage, signal)
    const { mapping, body } = prepared.value
    const creds = await p.whatsappCredentials(env.tenantId)
    const sent = await claimAndSend(env, mapping, creds, body, stage, signal)
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
    // Known not taken (an unknown outcome was settled in claimAndSend).
    const c = classifyMetaError(res)
    const details = { ...c.error.details, receiptReason: c.receiptReason }
    if (c.action === 'fail') return fail(new BridgeError(c.error.code, c.error.message, { details }))
    if (c.action === 'unknown-outcome') {
      // Not reached: the client marks every such answer outcomeUnknown and claimAndSend settles it.
      // Should the two readings ever part, the send is not repeated blindly: Meta may have it.
      return deadLetter(
        new BridgeError('GWB_SEND_UNSETTLED', `${c.error.message} (outcome unknown, not settled)`, {
          details: { ...details, outcomeUnknown: true },
        }),
      )
    }
    await p.tracking.markRetrying({
      tenantId: env.tenantId,
      direction: 'outbound',
      messageId: env.messageId,
      errorCode: String(res.error.code ?? res.status),
      errorText: c.error.message,
      at: new Date(p.now()),
    })
    if (res.error.code === 130429) await p.slowSendRate(creds.phoneNumberId)
    const retryAfterMs =
      c.action === 'throttle-recipient' ? pairLimitDelay(attempt, p.pairRetryMaxMs) : c.error.retryAfterMs
    return retry(new BridgeError(c.error.code, c.error.message, { canRetry: true, details, retryAfterMs }))
  }

  /** The customer to send to and the Meta body (with the media re-hosted), or why there is none. */
  async function prepare(
    env: GenesysOutboundEnvelope,
    msg: GenesysOutbound,
    stage: StepTimer,
  ): Promise<StageResult<{ mapping: ConversationMapping; body: MetaSendBody }>> {
    const mapping = await stage('mapping', () => resolveRecipient(env))
    if (mapping === undefined) {
      return fail(
        new BridgeError(
          'GWB_NO_MAPPING',
          `no WhatsApp customer is mapped to conversation ${env.conversationId ?? '(none)'}`,
          { details: { receiptReason: 'InvalidDestination' } },
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
    return body.kind === 'ok' ? ok({ mapping, body: body.value }) : body
  }
}

const ids = (env: GenesysOutboundEnvelope) => ({
  tenantId: env.tenantId,
  messageId: env.messageId,
  conversationId: env.conversationId,
})

/** The send names its message, so Meta's statuses of it can settle an unknown outcome. */
function withCallback(env: GenesysOutboundEnvelope, body: MetaSendBody, resend: boolean): MetaSendBody {
  const data = callbackDataFor({ tenantId: env.tenantId, messageId: env.messageId, resend })
  return data === undefined ? body : { ...body, biz_opaque_callback_data: data }
}
