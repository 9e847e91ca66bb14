import t from 'tap'
import { request } from 'undici'
import { startBridge, type RunningBridge } from '../../src/app/bridge.js'
import type { Config } from '../../src/config/config.js'
import { createFakeGenesys, type FakeGenesys } from '../../src/fakes/fake-genesys.js'
import { createFakeMeta, type FakeMeta } from '../../src/fakes/fake-meta.js'
import type { StatusWebhookOptions } from '../../src/fakes/meta-status-emitter.js'
import { metaJson } from '../../src/fakes/meta-webhooks.js'
import { signGenesys, signMeta } from '../../src/fakes/sign.js'
import type { TenantSpec } from '../../src/processors/tenant-spec.js'
import { upsertTenant } from '../../src/sinks/db/tenants.js'
import type { Logger } from '../../src/log.js'
import type { Resolver } from '../../src/sinks/media-fetch.js'
import { testEnv, testLog } from './stack.js'
import { loadConfig } from '../../src/config/config.js'
import { tenantSpec } from './tenants.js'

export interface Harness {
  bridge: RunningBridge
  config: Config
  /** The environment the bridge was configured from: give it to child bridge processes. */
  env: Record<string, string>
  meta: FakeMeta
  genesys: FakeGenesys
  tenant: TenantSpec
  /** The public (webhook) port's base URL. */
  url: string
  /** The admin port's base URL: /metrics, /ready, /health. */
  adminUrl: string
  /** Posts a body to /webhook/genesys signed with the tenant's secret (or the given signature). */
  postGenesys: (
    body: unknown,
    opts?: { signature?: string; raw?: string; path?: string },
  ) => Promise<{ status: number; body: string }>
  /**
   * Posts a Meta webhook to /webhook/meta, serialised as Meta does and signed with the app secret of
   * `opts.tenant` (default: the harness tenant), or with the given signature / raw body. `opts.path`
   * replaces the route's path (for example `/webhook/meta/{phoneNumberId}`).
   */
  postMeta: (
    payload: unknown,
    opts?: { signature?: string; raw?: string; tenant?: TenantSpec; path?: string },
  ) => Promise<{ status: number; body: string }>
  /** GET /webhook/meta with the given query string. */
  getMeta: (query: string) => Promise<{ status: number; body: string; contentType: string | undefined }>
  newTenant: (overrides?: Partial<TenantSpec>) => Promise<TenantSpec>
  close: () => Promise<void>
}

/**
 * A bridge on the real stack (own topics, groups and tenant), with both fakes in front of it.
 * `opts.log` replaces the test logger (e.g. one that captures every line at debug); `opts.resolve`
 * resolves host names for the fetch policy; `opts.now` is the clock that ends secret rotation
 * overlaps at ingest.
 */
export async function startHarness(
  envOverrides: Record<string, string> = {},
  opts: { log?: Logger; resolve?: Resolver; now?: () => number; statuses?: Omit<StatusWebhookOptions, 'url'> } = {},
): Promise<Harness> {
  const meta = await createFakeMeta({ latency: 5 })
  const genesys = await createFakeGenesys({})
  // The fakes listen on 127.0.0.1 over http: listed by exact host:port (with any the test adds),
  // nothing else local is reachable.
  const insecure = [meta.url, genesys.apiUrl].map((u) => new URL(u).host)
  if (envOverrides['FETCH_INSECURE_ORIGINS'] !== undefined) insecure.push(envOverrides['FETCH_INSECURE_ORIGINS'])
  const env = testEnv({
    HTTP_PORT: '0',
    HTTP_HOST: '127.0.0.1',
    TOPIC_PARTITIONS: '4',
    META_GRAPH_URL: meta.url,
    GENESYS_API_URL: genesys.apiUrl,
    GENESYS_LOGIN_URL: genesys.loginUrl,
    RETRY_BASE_MS: '50',
    RETRY_MAX_MS: '400',
    // Tests drive one number far above Meta's default 80/s; the limit has its own test.
    META_SEND_RATE_PER_NUMBER: '100000',
    META_SEND_BURST_PER_NUMBER: '100000',
    ...envOverrides,
    FETCH_INSECURE_ORIGINS: insecure.join(','),
  })
  const config = loadConfig(env)
  const bridge = await startBridge(config, opts.log ?? testLog, {
    ...(opts.resolve === undefined ? {} : { resolve: opts.resolve }),
    ...(opts.now === undefined ? {} : { now: opts.now }),
  })
  const url = `http://127.0.0.1:${bridge.port}`
  const adminUrl = `http://127.0.0.1:${bridge.adminPort}`
  // Meta's status webhooks for what it accepted, to this bridge's /webhook/meta (as Meta would).
  if (opts.statuses !== undefined) meta.setStatusWebhooks({ ...opts.statuses, url: `${url}/webhook/meta` })

  const newTenant = async (overrides: Partial<TenantSpec> = {}): Promise<TenantSpec> => {
    const spec = { ...tenantSpec(), ...overrides }
    await upsertTenant(bridge.resources.sql, config.credentialsKey, spec)
    meta.addNumber({ ...spec.whatsapp })
    genesys.addClient({ ...spec.genesys })
    return spec
  }
  const tenant = await newTenant()

  return {
    bridge,
    config,
    env,
    meta,
    genesys,
    tenant,
    url,
    adminUrl,
    newTenant,
    async postGenesys(body, opts = {}) {
      const raw = opts.raw ?? JSON.stringify(body)
      const res = await request(`${url}${opts.path ?? '/webhook/genesys'}`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(opts.signature === ''
            ? {}
            : { 'x-hub-signature-256': opts.signature ?? signGenesys(raw, tenant.genesys.webhookSecret) }),
        },
        body: raw,
      })
      return { status: res.statusCode, body: await res.body.text() }
    },
    async postMeta(payload, opts = {}) {
      const raw = opts.raw ?? metaJson(payload)
      const secret = (opts.tenant ?? tenant).whatsapp.appSecret
      const res = await request(`${url}${opts.path ?? '/webhook/meta'}`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          // An empty signature sends none at all.
          ...(opts.signature === '' ? {} : { 'x-hub-signature-256': opts.signature ?? signMeta(raw, secret) }),
        },
        body: raw,
      })
      return { status: res.statusCode, body: await res.body.text() }
    },
    async getMeta(query) {
      const res = await request(`${url}/webhook/meta?${query}`, { method: 'GET' })
      const ct = res.headers['content-type']
      return {
        status: res.statusCode,
        body: await res.body.text(),
        contentType: typeof ct === 'string' ? ct : undefined,
      }
    },
    async close() {
      await bridge.stop()
      await Promise.all([meta.close(), genesys.close(), dropTopics(bridge, config)])
    },
  }
}

/**
 * Every harness creates its own topics (12 partitions and a .dlq twin each): a suite leaves
 * thousands of partitions behind, and a broker keeps a file open per partition, so a machine that
 * runs the suite again and again reaches the broker's open-file limit. Cleanup only: a failure here
 * says nothing about the bridge.
 */
async function dropTopics(bridge: RunningBridge, config: Config): Promise<void> {
  const admin = bridge.resources.kafka.admin()
  try {
    await admin.connect()
    const ours = new Set(Object.values(config.kafka.topics).flatMap((n) => [n, `${n}.dlq`]))
    const existing = (await admin.listTopics()).filter((n) => ours.has(n))
    if (existing.length > 0) await admin.deleteTopics({ topics: existing, timeout: 10_000 })
  } catch {
    // The broker may be down on purpose (fault tests): its topics go with the test's own data.
  } finally {
    await admin.disconnect().catch(() => undefined)
  }
}

// Open issue: in a clean clone a test file's process could stay alive after every test passed and
// every bridge was stopped. Traced to kafkajs admin sockets reopened by a request still retrying
// when its admin disconnected (lag monitor, readiness probe; both now close again), but one such
// socket was still seen in 1 of 3 runs of the metrics test. Production exits explicitly after stop.
// Once tap has the file's results, exit rather than hang CI until the file timeout.
t.teardown(() => {
  setTimeout(() => process.exit(process.exitCode ?? 0), 5000).unref()
})
