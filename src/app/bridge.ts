import { deadLetterTopic, type Config } from '../config/config.js'
import { startConsumerGroup, type RunningGroup } from '../consumer/consumer-group.js'
import type { FlowHandler } from '../consumer/record-runner.js'
import { BridgeError } from '../errors.js'
import { archiveFlow } from '../flows/archive.js'
import { outboundFlow, type OutboundPorts } from '../flows/outbound.js'
import { genesysWebhookRoute } from '../ingest/genesys-webhook.js'
import { startHttpServer, type HttpServer, type Route } from '../ingest/http-server.js'
import type { Logger } from '../log.js'
import { createMetrics } from '../metrics.js'
import { BUCKETS } from '../processors/object-keys.js'
import { failedReceipt } from '../processors/build-receipt.js'
import type { BridgeErrorEvent, DeadLetter } from '../schemas/records.generated.js'
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
  const routes: Route[] = adminRoutes(r)
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
    )
  }
  const server: HttpServer = await startHttpServer({
    host: config.http.host,
    port: config.http.port,
    maxBodyBytes: config.http.maxBodyBytes,
    routes,
    log,
    metrics,
  })

  const groups: RunningGroup[] = []
  const start = async <T>(role: string, topic: string, handler: FlowHandler<T>): Promise<void> => {
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
  if (config.roles.includes('archive')) {
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
  }
  log.info({ roles: config.roles, port: server.port }, 'bridge started')

  return {
    port: server.port,
    resources: r,
    async stop() {
      server.close()
      await Promise.all(groups.map((g) => g.stop()))
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
    publishDeadLetter: (d: DeadLetter) => {
      const topic = deadLetterTopic(d.sourceTopic)
      return r.producer.send({ topic, key: d.tenantId, value: r.codec.encode(topic, d) })
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
