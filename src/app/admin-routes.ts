import { request } from 'undici'
import { errorMessage } from '../errors.js'
import { json, type Route } from '../ingest/routes.js'
import type { Liveness } from '../consumer/liveness.js'
import type { Resources } from './resources.js'

type Check = () => Promise<void>

/**
 * Served by every process, whatever its roles, on ADMIN_PORT (/health also on HTTP_PORT). /health:
 * the process is alive (no dependency checked, so a Kafka outage never gets a process restarted),
 * 503 once a consumer group crashed for good (kafkajs CRASH without restart): only a restart brings
 * it back. /ready: Kafka, the registry and PostgreSQL answer, and the process is not shutting down;
 * the body names this process's roles. /metrics: Prometheus text.
 */
export function adminRoutes(
  r: Resources,
  liveness: Liveness,
): {
  routes: Route[]
  /** From now on /ready answers 503 "draining": the process is about to stop taking requests. */
  beginDrain: () => void
  close: () => Promise<void>
} {
  let draining = false
  const admin = r.kafka.admin()
  let adminConnected: Promise<void> | undefined
  let closed = false
  const checks: Record<string, Check> = {
    kafka: async () => {
      if (closed) throw new Error('stopping')
      adminConnected ??= admin.connect()
      await adminConnected
      // Stopped while connecting: close() has run already and must not be outlived by this socket.
      if (closed) {
        await admin.disconnect()
        throw new Error('stopping')
      }
      await admin.describeCluster()
    },
    registry: async () => {
      // /config is one small answer; /subjects grows with every subject ever registered.
      const res = await request(`${r.config.registryUrl}/config`, { headersTimeout: 2500, bodyTimeout: 2500 })
      await res.body.dump()
      if (res.statusCode !== 200) throw new Error(`registry answered ${res.statusCode}`)
    },
    postgres: async () => {
      await r.sql`select 1`
    },
  }
  // Probes can come every second from several load balancers: answer from a short-lived result.
  let last: { at: number; status: number; body: unknown } | undefined
  const ready = async () => {
    if (last !== undefined && Date.now() - last.at < 1000) return last
    const results = await Promise.all(
      Object.entries(checks).map(async ([name, check]) => {
        try {
          await withTimeout(check(), 3000)
          return [name, 'ok'] as const
        } catch (err) {
          adminConnected = name === 'kafka' ? undefined : adminConnected
          return [name, errorMessage(err)] as const
        }
      }),
    )
    const allOk = results.every(([, v]) => v === 'ok')
    last = {
      at: Date.now(),
      status: allOk ? 200 : 503,
      body: { status: allOk ? 'ready' : 'not_ready', roles: r.config.roles, checks: Object.fromEntries(results) },
    }
    return last
  }
  const routes: Route[] = [
    {
      method: 'GET',
      path: '/health',
      name: 'health',
      headers: [],
      handler: () =>
        liveness.alive
          ? json(200, { status: 'ok', roles: r.config.roles })
          : json(503, { status: 'dead', roles: r.config.roles, failures: liveness.failures }),
    },
    {
      method: 'GET',
      path: '/ready',
      name: 'ready',
      headers: [],
      handler: async () => {
        if (draining) return json(503, { status: 'draining', roles: r.config.roles })
        const res = await ready()
        return json(res.status, res.body)
      },
    },
    {
      method: 'GET',
      path: '/metrics',
      name: 'metrics',
      headers: [],
      handler: async () => ({
        status: 200,
        body: await r.metrics.registry.metrics(),
        contentType: r.metrics.registry.contentType,
      }),
    },
  ]
  return {
    routes,
    beginDrain: () => {
      draining = true
    },
    // The probe's admin connection would otherwise keep the process (or a test) alive after stop.
    // Always disconnect: a failed probe forgets its connect promise, not the connection it made.
    async close() {
      closed = true
      await admin.disconnect().catch(() => undefined)
    },
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let t: NodeJS.Timeout | undefined
  return Promise.race([
    p,
    new Promise<T>((_, reject) => {
      t = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)
    }),
  ]).finally(() => clearTimeout(t))
}
