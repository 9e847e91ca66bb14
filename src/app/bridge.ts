import { deadLetterTopic, type Config } from '../config/config.js'
import { startConsumerGroup, type RunningGroup } from '../consumer/consumer-group.js'
import { startLagMonitor, type LagTarget } from '../consumer/lag-monitor.js'
import type { FlowHandler } from '../consumer/record-runner.js'
import { BridgeError, errorMessage } from '../errors.js'
import { archiveFlow } from '../flows/archive.js'
import { startRetention } from '../flows/retention.js'
import { inboundFlow, type InboundPorts } from '../flows/inbound.js'
import { outboundFlow, type OutboundPorts } from '../flows/outbound.js'
import { startPendingSweeper, statusFlow, type StatusPorts } from '../flows/status.js'
import { genesysWebhookRoute } from '../ingest/genesys-webhook.js'
import { startHttpServer, type HttpServer, type Route } from '../ingest/http-server.js'
import { metaWebhookRoutes, type MetaIngestRecord } from '../ingest/meta-webhook.js'
import type { Logger } from '../log.js'
import { createMetrics } from '../metrics.js'
import { BUCKETS } from '../processors/object-keys.js'
import { createSemaphore } from '../semaphore.js'
import { failedReceipt } from '../processors/build-receipt.js'
import { parseMetaWebhook, splitMetaWebhook } from '../processors/split-meta-webhook.js'
import type { BridgeErrorEvent, DeadLetter } from '../schemas/records.generated.js'
import { listTenants } from '../sinks/db/tenants.js'
import {
  createStatusApplier,
  lookupByMessageIds,
  savePendingStatus,
  sweepPendingStatuses,
  type PendingStatus,
} from '../sinks/db/tracking.js'
import type { OutRecord } from '../sinks/kafka/producer.js'
import { adminRoutes } from './admin-routes.js'
import { openResources, type Resources } from './resources.js'

export interface RunningBridge {
  readonly port: number
  readonly resources: Resources
  stop: () => Promise<void>
}

/** Starts the roles of this process: ingest routes, and one consumer group member per flow. */
export async function startBridge(config: Config, log: Logger): Promise<RunningBridge> {
  const metrics = createMetrics()
  const r = await openResources(config, log, metrics)
  const t = config.kafka.topics
  const admin = adminRoutes(r)
  const routes: Route[] = [...admin.routes]
  if (config.roles.includes('ingest')) {
    routes.push(
      genesysWebhookRoute({
        log: log.child({ route: 'genesys' }),
        findByIntegrationId: async (integrationId) => {
          const tenant = await r.directory.byIntegrationId(integrationId)
          if (tenant === undefined) return undefined
          const creds = await r.directory.genesysCredentials(tenant.id)
          return creds === undefined ? undefined : { tenant, webhookSecret: creds.webhookSecret }
        },
        produce: (key, value) =>
          r.producer.send({ topic: t.genesysOutbound, key, value: r.codec.encode(t.genesysOutbound, value) }),
      }),
      ...metaWebhookRoutes({
        log: log.child({ route: 'meta' }),
        findByPhoneNumberId: async (phoneNumberId) => {
          const tenant = await r.directory.byPhoneNumberId(phoneNumberId)
          if (tenant === undefined) return undefined
          const creds = await r.directory.whatsappCredentials(tenant.id)
          return creds === undefined ? undefined : { tenant, appSecret: creds.appSecret }
        },
        verifyTokens: async (tenantId) => {
          const active = (await listTenants(r.sql)).filter(
            (x) => x.status === 'active' && (tenantId === undefined || x.id === tenantId),
          )
          // One tenant with unreadable credentials must not stop every other tenant's handshake.
          const creds = await Promise.allSettled(active.map((x) => r.directory.whatsappCredentials(x.id)))
          return creds.flatMap((c, i) => {
            if (c.status === 'fulfilled') return c.value === undefined ? [] : [c.value.verifyToken]
            log.warn({ tenantId: active[i]?.id, err: errorMessage(c.reason) }, 'verify token unreadable')
            return []
          })
        },
        produce: (records) => r.producer.sendAll(records.map((rec) => metaRecord(r, rec))),
      }),
    )
  }
  const server: HttpServer = await startHttpServer({
    host: config.http.host,
    port: config.http.port,
    maxBodyBytes: config.http.maxBodyBytes,
    routes,
    log,
    metrics,
    limits: {
      rate:
        config.http.ratePerSource === 0
          ? false
          : { ratePerSec: config.http.ratePerSource, burst: config.http.burstPerSource },
    },
  })

  const groups: RunningGroup[] = []
  const lagTargets: LagTarget[] = []
  const start = async <T>(role: string, topic: string, handler: FlowHandler<T>): Promise<void> => {
    lagTargets.push({ groupId: `${config.kafka.groupPrefix}${role}`, topic })
    groups.push(
      await startConsumerGroup(
        r.kafka,
        handler,
        {
          groupId: `${config.kafka.groupPrefix}${role}`,
          topic,
          maxInFlight: config.processing.concurrency,
          commitIntervalMs: 200,
          maxAttempts: config.processing.maxAttempts,
          retryBaseMs: config.processing.retryBaseMs,
          retryMaxMs: config.processing.retryMaxMs,
          unknownErrorMaxMs: 10_000,
        },
        { log, metrics },
      ),
    )
  }
  const common = commonPorts(r)
  if (config.roles.includes('outbound')) {
    await start('outbound', t.genesysOutbound, outboundFlow({ ...common, ...outboundPorts(r) }))
  }
  const stoppers: (() => Promise<void>)[] = []
  if (config.roles.includes('inbound')) {
    await start('inbound', t.whatsappInbound, inboundFlow({ ...common, ...inboundPorts(r) }))
  }
  if (config.roles.includes('status')) {
    await start('status', t.whatsappStatus, statusFlow({ ...common, ...statusPorts(r) }))
    stoppers.push(pendingSweeper(r).stop)
  }
  if (config.roles.includes('archive')) {
    const retention = startRetention({ store: r.store, days: config.s3.retentionDays, everyMs: 3_600_000, log })
    stoppers.push(async () => retention.stop())
    await start(
      'archive-outbound',
      t.genesysOutbound,
      archiveFlow({
        flow: 'archive-outbound',
        bucket: BUCKETS.webhooksOutbound,
        store: r.store,
        publishDeadLetter: common.publishDeadLetter,
        now: Date.now,
        decode: async (value) => {
          const env = await r.codec.decode<'GenesysOutboundEnvelope'>(t.genesysOutbound, value)
          return {
            tenantId: env.tenantId,
            receivedAtMs: env.receivedAtMs,
            name: env.conversationId ?? env.toId ?? 'unknown',
            payload: env.payload,
            metadata: { 'received-at': new Date(env.receivedAtMs).toISOString(), 'message-id': env.messageId },
          }
        },
      }),
    )
    await start(
      'archive-inbound',
      t.whatsappRaw,
      archiveFlow({
        flow: 'archive-inbound',
        bucket: BUCKETS.webhooksInbound,
        store: r.store,
        publishDeadLetter: common.publishDeadLetter,
        now: Date.now,
        decode: async (value) => {
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
        },
      }),
    )
  }
  // gwb_consumer_lag_records per partition of each group of this process.
  stoppers.push(startLagMonitor(r.kafka, lagTargets, { metrics, log }).stop, admin.close)
  log.info({ roles: config.roles, port: server.port }, 'bridge started')

  return {
    port: server.port,
    resources: r,
    async stop() {
      server.close()
      await Promise.all([...groups.map((g) => g.stop()), ...stoppers.map((stop) => stop())])
      await r.close()
    },
  }
}

function commonPorts(r: Resources) {
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

function outboundPorts(r: Resources): Omit<OutboundPorts, 'now' | 'publishError' | 'publishDeadLetter'> {
  const t = r.config.kafka.topics
  const log = r.log.child({ flow: 'outbound' })
  return {
    log,
    metrics: r.metrics,
    decode: (value) => r.codec.decode<'GenesysOutboundEnvelope'>(t.genesysOutbound, value),
    mappingByConversation: (id) => r.mappings.byConversation(id),
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
    claimState: async (messageId) => (await lookupByMessageIds(r.sql, 'outbound', [messageId])).get(messageId),
    sendSlots: createSemaphore(r.config.meta.connections),
    sendRate: (phoneNumberId) => r.sendRate.acquire(phoneNumberId),
    // Longer than a Meta call can take, so a live owner finishing its send is never reported in doubt.
    claimLeaseMs: r.config.meta.timeoutMs * 2,
    meta: r.meta,
    touchActivity: (id, at) => r.toucher.touch(id, at),
    sendFailedReceipt: async (tenantId, f) => {
      const body = failedReceipt({ genesysMessageId: f.messageId, toId: f.toId, time: Date.now() }, f.reason, f.text)
      const res = await r.genesys.post(tenantId, 'receipt', body)
      if (res.ok) return
      if (res.network === true || res.status === 429 || res.status >= 500) {
        // Thrown: the runner retries it with backoff, so the agent does get told.
        throw new BridgeError('GWB_GENESYS_TRANSIENT', `receipt not accepted: HTTP ${res.status}`, {
          canRetry: true,
          retryAfterMs: res.retryAfterMs,
        })
      }
      log.error({ status: res.status, error: res.error.message, tenantId }, 'Genesys refused a Failed receipt')
    },
  }
}

function metaRecord(r: Resources, rec: MetaIngestRecord): OutRecord {
  const t = r.config.kafka.topics
  switch (rec.kind) {
    case 'inbound':
      return { topic: t.whatsappInbound, key: rec.key, value: r.codec.encode(t.whatsappInbound, rec.value) }
    case 'status':
      return { topic: t.whatsappStatus, key: rec.key, value: r.codec.encode(t.whatsappStatus, rec.value) }
    case 'raw':
      return { topic: t.whatsappRaw, key: rec.key, value: r.codec.encode(t.whatsappRaw, rec.value) }
  }
}

function inboundPorts(r: Resources): Omit<InboundPorts, 'now' | 'publishError' | 'publishDeadLetter'> {
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
    touchActivity: (id, at) => r.toucher.touch(id, at),
    meta: r.meta,
    storeMedia: (tenantId, mediaType, media, metadata) => r.media.storeInbound(tenantId, mediaType, media, metadata),
    mediaMaxBytes: r.config.processing.mediaMaxBytes,
    postMessage: (tenantId, body) => r.genesys.post(tenantId, 'message', body),
    claimer: r.claimer,
    tracking: r.tracking,
  }
}

function statusPorts(r: Resources): Omit<StatusPorts, 'now' | 'publishError' | 'publishDeadLetter'> {
  const t = r.config.kafka.topics
  const applier = createStatusApplier(r.sql, { maxSize: 500, maxWaitMs: 2 })
  return {
    log: r.log.child({ flow: 'status' }),
    metrics: r.metrics,
    decode: (value) => r.codec.decode<'WhatsAppStatusEnvelope'>(t.whatsappStatus, value),
    applyStatus: (s) => applier.add(s),
    savePending: (p) => savePendingStatus(r.sql, p),
    postReceipt: (tenantId, body) => r.genesys.post(tenantId, 'receipt', body),
    // One short wait (the runner's first backoff) covers a send being recorded right now; later
    // ones are the sweeper's job, so an unknown wamid never dead-letters.
    parkAtAttempt: Math.min(2, r.config.processing.maxAttempts),
  }
}

/** Parked statuses go back onto the status topic once their send is tracked; kept at most 7 days. */
function pendingSweeper(r: Resources) {
  const t = r.config.kafka.topics
  return startPendingSweeper({
    log: r.log.child({ component: 'pending-statuses' }),
    metrics: r.metrics,
    now: Date.now,
    intervalMs: 2000,
    maxAgeMs: 7 * 24 * 3600 * 1000,
    takeReady: (limit) =>
      r.sql<PendingStatus[]>`
      delete from pending_statuses p
      where (p.wamid, p.status) in (
        select q.wamid, q.status from pending_statuses q
        where q.payload->>'topic' = ${t.whatsappStatus}
          and exists (select 1 from message_tracking m where m.direction = 'outbound' and m.wamid = q.wamid)
        order by q.received_at
        limit ${limit}
        for update skip locked)
      returning p.wamid, p.status, p.payload, p.received_at as "receivedAt"`.then((rows) =>
        [...rows].sort((a, b) => a.receivedAt.getTime() - b.receivedAt.getTime()),
      ),
    restore: async (items) => {
      for (const p of items) await savePendingStatus(r.sql, { ...p, receivedAt: p.receivedAt })
    },
    expire: (olderThan) => sweepPendingStatuses(r.sql, olderThan),
    republish: (key, env) =>
      r.producer.send({ topic: t.whatsappStatus, key, value: r.codec.encode(t.whatsappStatus, env) }),
  })
}
