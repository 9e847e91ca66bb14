import type { Config } from '../config/config.js'
import type { RunningGroup } from '../consumer/group-member.js'
import { startConsumerGroup } from '../consumer/start-group.js'
import { startLagMonitor, type LagTarget } from '../consumer/lag-monitor.js'
import { createLiveness } from '../consumer/liveness.js'
import type { FlowHandler } from '../consumer/record-runner.js'
import { inboundFlow } from '../flows/inbound.js'
import { outboundFlow } from '../flows/outbound.js'
import { statusFlow } from '../flows/status.js'
import { startHttpServer, type HttpServer } from '../ingest/http-server.js'
import type { Route } from '../ingest/routes.js'
import type { Logger } from '../log.js'
import { createMetrics } from '../metrics.js'
import { adminRoutes } from './admin-routes.js'
import {
  archiveFlows,
  commonPorts,
  inboundPorts,
  outboundPorts,
  pendingSweeper,
  retention,
  statusPorts,
} from './flow-ports.js'
import { ingestRoutes } from './ingest-routes.js'
import { openResources, type ResourceDeps, type Resources } from './resources.js'

export interface RunningBridge {
  /** The public (webhook) port. */
  readonly port: number
  /** The admin port: /metrics, /ready, /health. */
  readonly adminPort: number
  readonly resources: Resources
  stop: () => Promise<void>
}

/** Starts the roles of this process: ingest routes, and one consumer group member per flow. */
export async function startBridge(config: Config, log: Logger, deps: ResourceDeps = {}): Promise<RunningBridge> {
  const metrics = createMetrics()
  const r = await openResources(config, log, metrics, deps)
  const t = config.kafka.topics
  const liveness = createLiveness()
  const admin = adminRoutes(r, liveness)
  // Webhooks on the public port; probes and scrapes on the admin port (/health on both).
  const publicRoutes: Route[] = admin.routes.filter((x) => x.name === 'health')
  if (config.roles.includes('ingest')) publicRoutes.push(...ingestRoutes(r, log))
  const server: HttpServer = await startHttpServer({
    host: config.http.host,
    port: config.http.port,
    maxBodyBytes: config.http.maxBodyBytes,
    routes: publicRoutes,
    log,
    metrics,
    limits: {
      rate:
        config.http.ratePerSource === 0
          ? false
          : { ratePerSec: config.http.ratePerSource, burst: config.http.burstPerSource },
      bodyTimeoutMs: config.http.bodyTimeoutMs,
      headersTimeoutMs: config.http.headersTimeoutMs,
      keepAliveTimeoutMs: config.http.keepAliveTimeoutMs,
      maxInFlightBytes: config.http.maxInFlightBytes,
      trustedProxies: config.http.trustedProxies,
    },
  })
  const adminServer: HttpServer = await startHttpServer({
    host: config.admin.host,
    port: config.admin.port,
    maxBodyBytes: 1024,
    routes: admin.routes,
    log,
    limits: { rate: false },
  })

  const groups: RunningGroup[] = []
  const lagTargets: LagTarget[] = []
  const start = async <T>(
    role: string,
    topic: string,
    handler: FlowHandler<T>,
    fetch = { minBytes: config.kafka.fetchMinBytes, maxWaitMs: config.kafka.fetchMaxWaitMs },
  ): Promise<void> => {
    lagTargets.push({ groupId: `${config.kafka.groupPrefix}${role}`, topic })
    groups.push(
      await startConsumerGroup(
        r.records,
        handler,
        {
          groupId: `${config.kafka.groupPrefix}${role}`,
          topic,
          maxInFlight: config.processing.concurrency,
          fetchBytesPerPartition: config.kafka.fetchBytesPerPartition,
          fetchMinBytes: fetch.minBytes,
          fetchMaxWaitMs: fetch.maxWaitMs,
          commitIntervalMs: 200,
          maxAttempts: config.processing.maxAttempts,
          retryBaseMs: config.processing.retryBaseMs,
          retryMaxMs: config.processing.retryMaxMs,
          retryMaxDurationMs: config.processing.retryMaxDurationMs,
          unknownErrorMaxMs: config.processing.unknownErrorMaxMs,
        },
        { log, metrics, liveness },
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
  const archives = config.roles.includes('archive')
  if (archives || config.roles.includes('outbound')) {
    const sweeps = retention(r)
    stoppers.push(async () => sweeps.stop())
  }
  if (archives) {
    const fetch = { minBytes: config.kafka.archiveFetchMinBytes, maxWaitMs: config.kafka.archiveFetchMaxWaitMs }
    for (const a of archiveFlows(r, common)) await start(a.role, a.topic, a.handler, fetch)
  }
  // gwb_consumer_lag_records per partition of each group of this process.
  stoppers.push(startLagMonitor(r.kafka, lagTargets, { metrics, log }).stop, admin.close)
  log.info({ roles: config.roles, port: server.port, adminPort: adminServer.port }, 'bridge started')

  return {
    port: server.port,
    adminPort: adminServer.port,
    resources: r,
    async stop() {
      // Readiness fails first, so load balancers stop sending here while the listener still takes
      // what they send meanwhile; then the listener closes and requests in progress finish.
      admin.beginDrain()
      if (config.shutdownDrainMs > 0) await new Promise((resolve) => setTimeout(resolve, config.shutdownDrainMs))
      await server.close()
      await Promise.all([...groups.map((g) => g.stop()), ...stoppers.map((stop) => stop())])
      await adminServer.close()
      await r.close()
    },
  }
}
