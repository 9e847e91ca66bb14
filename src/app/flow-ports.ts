import { deadLetterTopic } from '../config/config.js'
import { BridgeError } from '../errors.js'
import { archiveFlow, type ArchiveItem } from '../flows/archive.js'
import type { FlowHandler } from '../consumer/record-runner.js'
import type { InboundPorts } from '../flows/inbound.js'
import type { OutboundPorts } from '../flows/outbound.js'
import { startRetention } from '../flows/retention.js'
import { startPendingSweeper, type StatusPorts } from '../flows/status.js'
import { failedReceipt } from '../processors/build-receipt.js'
import { classifyHttpFailure, isRetryableWhenRepeatable } from '../processors/classify-failure.js'
import { ALL_BUCKETS, BUCKETS } from '../processors/object-keys.js'
import { claimInbound } from '../sinks/db/inbound-claims.js'
import { parseMetaWebhook, splitMetaWebhook } from '../processors/split-meta-webhook.js'
import type { BridgeErrorEvent, DeadLetter } from '../schemas/records.generated.js'
import { sleep } from '../retry.js'
import { createSemaphore } from '../semaphore.js'
import { createOwedReceiptClearer, createStatusApplier } from '../sinks/db/delivery-statuses.js'
import { createReceiptDebts } from '../sinks/db/owed-receipts.js'
import { expireResendTokens } from '../sinks/db/settlement.js'
import { expireTrackingRows } from '../sinks/db/tracking-rows.js'
import { savePendingStatus, sweepPendingStatuses, takeReadyPendingStatuses } from '../sinks/db/pending-statuses.js'
import type { Resources } from './resources.js'

// What each flow is given: the real sinks of this process, behind the ports the flow declares.
// The flows stay free of wiring; tests pass their own ports.

/** Failure topics and the clock, shared by every flow. */
export function commonPorts(r: Resources) {
  const { topics } = r.config.kafka
  return {
    now: Date.now,
    publishError: (e: BridgeErrorEvent) =>
      r.producer.send({ topic: topics.errors, key: e.tenantId, value: r.codec.encode(topics.errors, e) }),
    publishDeadLetter: async (d: DeadLetter) => {
      const topic = deadLetterTopic(d.sourceTopic)
      await r.producer.send({ topic, key: d.tenantId, value: r.codec.encode(topic, d) })
      r.metrics.deadLetters.inc({ topic, code: d.code })
    },
  }
}

export function outboundPorts(r: Resources): Omit<OutboundPorts, 'now' | 'publishError' | 'publishDeadLetter'> {
  const t = r.config.kafka.topics
  const log = r.log.child({ flow: 'outbound' })
  return {
    log,
    metrics: r.metrics,
    decode: (value) => r.codec.decode<'GenesysOutboundEnvelope'>(t.genesysOutbound, value),
    mappingByConversation: (tenantId, id) => r.mappings.byConversation(tenantId, id),
    mappingByWa: (tenantId, waId) => r.mappings.byWa(tenantId, waId),
    learnMapping: async (m) => {
      await r.mappings.learn(m)
    },
    whatsappCredentials: async (tenantId) => {
      const c = await r.directory.whatsappCredentials(tenantId)
      if (c === undefined) throw new BridgeError('GWB_TENANT_UNKNOWN', `tenant ${tenantId} has no WhatsApp credentials`)
      return c
    },
    rehostMedia: (tenantId, need) => r.media.outbound(tenantId, need),
    claimer: r.claimer,
    tracking: r.tracking,
    settlement: r.settlement,
    receipts: createReceiptDebts(r.sql),
    reconcileWindowMs: r.config.meta.reconcileWindowMs,
    settlePollMs: 250,
    sleep,
    sendSlots: createSemaphore(r.config.meta.connections),
    sendRate: async (phoneNumberId) => void (await r.sendRate.acquire(phoneNumberId)),
    slowSendRate: async (phoneNumberId) => {
      const share = await r.sendRate.slowDown(phoneNumberId, r.config.meta.rateSlowdownMs)
      log.warn({ phoneNumberId, share }, 'Meta 130429: send rate of the number lowered')
    },
    pairRetryMaxMs: r.config.meta.pairRetryMaxMs,
    meta: r.meta,
    touchActivity: (tenantId, id, at) => r.toucher.touch(tenantId, id, at),
    sendFailedReceipt: async (tenantId, f) => {
      const body = failedReceipt({ genesysMessageId: f.messageId, toId: f.toId, time: Date.now() }, f.reason, f.text)
      const res = await r.genesys.post(tenantId, 'receipt', body)
      if (res.ok) return
      if (isRetryableWhenRepeatable(classifyHttpFailure(res))) {
        // Thrown: the runner retries it with backoff; the row still owes it, so the agent does get told.
        throw new BridgeError('GWB_GENESYS_TRANSIENT', `receipt not accepted: HTTP ${res.status}`, {
          canRetry: true,
          retryAfterMs: res.retryAfterMs,
        })
      }
      log.error({ status: res.status, error: res.error.message, tenantId }, 'Genesys refused a Failed receipt')
    },
  }
}

export function inboundPorts(r: Resources): Omit<InboundPorts, 'now' | 'publishError' | 'publishDeadLetter'> {
  const t = r.config.kafka.topics
  return {
    log: r.log.child({ flow: 'inbound' }),
    metrics: r.metrics,
    decode: (value) => r.codec.decode<'WhatsAppInboundEnvelope'>(t.whatsappInbound, value),
    integrationId: async (tenantId) => {
      const c = await r.directory.genesysCredentials(tenantId)
      if (c === undefined) throw new BridgeError('GWB_TENANT_UNKNOWN', `tenant ${tenantId} has no Genesys credentials`)
      return c.integrationId
    },
    whatsappCredentials: async (tenantId) => {
      const c = await r.directory.whatsappCredentials(tenantId)
      if (c === undefined) throw new BridgeError('GWB_TENANT_UNKNOWN', `tenant ${tenantId} has no WhatsApp credentials`)
      return c
    },
    mappingByWa: (tenantId, waId) => r.mappings.byWa(tenantId, waId),
    learnMapping: async (m) => {
      await r.mappings.learn(m)
    },
    touchActivity: (tenantId, id, at) => r.toucher.touch(tenantId, id, at),
    meta: r.meta,
    storeMedia: (tenantId, mediaType, media, metadata) => r.media.storeInbound(tenantId, mediaType, media, metadata),
    mediaMaxBytes: r.config.processing.mediaMaxBytes,
    postMessage: (tenantId, body) => r.genesys.post(tenantId, 'message', body),
    claimer: r.claimer,
    // Longer than a Genesys call can take, so a live owner finishing its post is never taken over.
    claimInbound: (c) => claimInbound(r.sql, { ...c, leaseMs: r.config.genesys.timeoutMs * 2 }),
    tracking: r.tracking,
  }
}

export function statusPorts(r: Resources): Omit<StatusPorts, 'now' | 'publishError' | 'publishDeadLetter'> {
  const t = r.config.kafka.topics
  // Concurrent status records share one statement for their writes, and one for their paid receipts.
  const batch = { maxSize: 500, maxWaitMs: 2 }
  const applier = createStatusApplier(r.sql, batch)
  const clearer = createOwedReceiptClearer(r.sql, batch)
  return {
    log: r.log.child({ flow: 'status' }),
    metrics: r.metrics,
    decode: (value) => r.codec.decode<'WhatsAppStatusEnvelope'>(t.whatsappStatus, value),
    applyStatus: (s) => applier.add(s),
    savePending: (p) => savePendingStatus(r.sql, p),
    settleFromStatus: (ref) => r.settlement.settleFromStatus(ref),
    postReceipt: (tenantId, body) => r.genesys.post(tenantId, 'receipt', body),
    clearOwedReceipt: (ref, paid) => clearer.add({ ref, paid }),
    // One short wait (the runner's first backoff) covers a send being recorded right now; later
    // ones are the sweeper's job, so an unknown wamid never dead-letters.
    parkAtAttempt: r.config.processing.maxAttempts === 0 ? 2 : Math.min(2, r.config.processing.maxAttempts),
  }
}

/** Parked statuses go back onto the status topic once their send is tracked; kept at most 7 days. */
export function pendingSweeper(r: Resources) {
  const t = r.config.kafka.topics
  return startPendingSweeper({
    log: r.log.child({ component: 'pending-statuses' }),
    metrics: r.metrics,
    now: Date.now,
    intervalMs: 2000,
    maxAgeMs: 7 * 24 * 3600 * 1000,
    takeReady: (limit) => takeReadyPendingStatuses(r.sql, t.whatsappStatus, limit),
    restore: async (items) => {
      for (const p of items) await savePendingStatus(r.sql, { ...p, receivedAt: p.receivedAt })
    },
    expire: (olderThan) => sweepPendingStatuses(r.sql, olderThan),
    republish: (key, env) =>
      r.producer.send({ topic: t.whatsappStatus, key, value: r.codec.encode(t.whatsappStatus, env) }),
  })
}

/**
 * Retention by role: the archive role expires archive and media objects, the outbound role (which
 * writes them) the used resend tokens, the outbound and inbound roles their final tracking rows.
 */
export function retention(r: Resources): { stop: () => void } {
  const roles = r.config.roles
  return startRetention({
    ...(roles.includes('archive')
      ? { objects: { store: r.store, buckets: ALL_BUCKETS, days: r.config.s3.retentionDays } }
      : {}),
    ...(roles.includes('outbound')
      ? {
          resendTokens: {
            days: r.config.processing.resendTokenRetentionDays,
            expire: (olderThan: Date) => expireResendTokens(r.sql, olderThan),
          },
        }
      : {}),
    ...(roles.includes('outbound') || roles.includes('inbound')
      ? {
          trackingRows: {
            days: r.config.processing.trackingRetentionDays,
            expire: (olderThan: Date) => expireTrackingRows(r.sql, olderThan),
          },
        }
      : {}),
    everyMs: 3_600_000,
    log: r.log.child({ component: 'retention' }),
  })
}

/** The two archive flows (Genesys webhooks and raw Meta webhooks), each with its own consumer group. */
export function archiveFlows(
  r: Resources,
  common: ReturnType<typeof commonPorts>,
): { role: string; topic: string; handler: FlowHandler<ArchiveItem> }[] {
  const t = r.config.kafka.topics
  const flow = (role: string, topic: string, bucket: string, decode: (value: Buffer) => Promise<ArchiveItem>) => ({
    role,
    topic,
    handler: archiveFlow({
      flow: role,
      bucket,
      store: r.store,
      publishDeadLetter: common.publishDeadLetter,
      now: Date.now,
      decode,
    }),
  })
  return [
    flow('archive-outbound', t.genesysOutbound, BUCKETS.webhooksOutbound, async (value) => {
      const env = await r.codec.decode<'GenesysOutboundEnvelope'>(t.genesysOutbound, value)
      return {
        tenantId: env.tenantId,
        receivedAtMs: env.receivedAtMs,
        name: env.conversationId ?? env.toId ?? 'unknown',
        payload: env.payload,
        metadata: { 'received-at': new Date(env.receivedAtMs).toISOString(), 'message-id': env.messageId },
      }
    }),
    flow('archive-inbound', t.whatsappRaw, BUCKETS.webhooksInbound, async (value) => {
      const env = await r.codec.decode<'MetaWebhookRaw'>(t.whatsappRaw, value)
      const parsed = parseMetaWebhook(env.payload, Number.MAX_SAFE_INTEGER)
      const phone = parsed.ok ? splitMetaWebhook(parsed.value).phoneNumberIds[0] : undefined
      return {
        tenantId: env.tenantId,
        receivedAtMs: env.receivedAtMs,
        name: phone ?? 'meta',
        payload: env.payload,
        metadata: {
          'received-at': new Date(env.receivedAtMs).toISOString(),
          ...(env.signature === null ? {} : { 'x-hub-signature-256': env.signature }),
        },
      }
    }),
  ]
}
