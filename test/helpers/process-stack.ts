import { Pool, request } from 'undici'
import { loadConfig, type Config } from '../../src/config/config.js'
import type { LatencyModel } from '../../src/fakes/fault-plan.js'
import type { StatusWebhookOptions } from '../../src/fakes/meta-status-emitter.js'
import { signGenesys } from '../../src/fakes/sign.js'
import type { TenantSpec } from '../../src/processors/tenant-spec.js'
import type { Sql } from '../../src/sinks/db/client.js'
import { upsertTenant } from '../../src/sinks/db/tenants.js'
import { createKafka } from '../../src/sinks/kafka/client.js'
import { tenantSpec } from './tenants.js'
import { spawnBridge, type BridgeProcess } from './bridge-process.js'
import { createTestDb, type TestDb } from './db.js'
import { spawnFakes, type FakesProcess } from './fakes-process.js'
import { testEnv, testLog } from './stack.js'

/**
 * The bridge on the real stack with nothing of it in the test's own process: both fakes in one
 * child (scripted over IPC), ingest and the status role in another ("front"), outbound workers in
 * more. The test process only posts traffic and reads results, so its stalls (a loaded machine,
 * thousands of pending requests) cannot hold back the fakes' answers or the status webhooks.
 * Same environment as the in-process harness (bridge-harness.ts): own topics, groups and tenant.
 */
export interface ProcessStack {
  env: Record<string, string>
  config: Config
  fakes: FakesProcess
  front: BridgeProcess
  tenant: TenantSpec
  /** The test's own connection to the bridge's database (tracking rows). */
  sql: Sql
  /** Posts a body to the front's /webhook/genesys, signed with the tenant's secret. */
  postGenesys: (body: unknown) => Promise<{ status: number; body: string }>
  /** Starts an outbound worker (ROLES=outbound) of the stack's consumer group. */
  spawnWorker: () => Promise<BridgeProcess>
  close: () => Promise<void>
}

export async function startProcessStack(
  envOverrides: Record<string, string>,
  opts: {
    metaLatency?: LatencyModel
    statuses?: Omit<StatusWebhookOptions, 'url'>
    /** Connections the test's posts use (default 32). */
    connections?: number
  } = {},
): Promise<ProcessStack> {
  const fakes = await spawnFakes()
  // A database of its own (migrated by this build), as the bridge's children share it with the test.
  let db: TestDb
  try {
    db = await createTestDb({ max: 4 })
  } catch (err) {
    await fakes.close()
    throw err
  }
  const env = testEnv({
    HTTP_PORT: '0',
    HTTP_HOST: '127.0.0.1',
    TOPIC_PARTITIONS: '4',
    META_GRAPH_URL: fakes.metaUrl,
    GENESYS_API_URL: fakes.genesysUrl,
    GENESYS_LOGIN_URL: fakes.genesysUrl,
    RETRY_BASE_MS: '50',
    RETRY_MAX_MS: '400',
    META_SEND_RATE_PER_NUMBER: '100000',
    META_SEND_BURST_PER_NUMBER: '100000',
    ...envOverrides,
    DATABASE_URL: db.url,
    FETCH_INSECURE_ORIGINS: [fakes.metaUrl, fakes.genesysUrl].map((u) => new URL(u).host).join(','),
  })
  const children: BridgeProcess[] = []
  // A worker still starting when the test ends is waited for, then killed, not left running.
  const starting = new Set<Promise<unknown>>()
  let pool: Pool | undefined
  const close = async (): Promise<void> => {
    await Promise.allSettled([...starting])
    await Promise.all(children.map((c) => c.kill('SIGKILL')))
    await pool?.close()
    await fakes.close()
    await db.drop()
    if (config !== undefined) await dropTopics(config)
  }
  let config: Config | undefined
  try {
    config = loadConfig(env)
    const cfg = config
    const tenant = tenantSpec()
    await upsertTenant(db.sql, cfg.credentialsKey, tenant)
    await fakes.call('addNumber', { ...tenant.whatsapp })
    await fakes.call('addClient', { ...tenant.genesys })
    if (opts.metaLatency !== undefined) await fakes.call('setMetaLatency', opts.metaLatency)

    const front = await spawnBridge({ ...env, ROLES: 'ingest,status' })
    children.push(front)
    const url = `http://127.0.0.1:${front.ports().port}`
    // The test's traffic uses at most this many connections, as a sender behind a client pool
    // would: hundreds of concurrent posts would saturate ingest on a loaded machine, and every
    // request there, Meta's status webhooks too, would wait its turn (seen: a minute).
    const traffic = new Pool(url, { connections: opts.connections ?? 32 })
    pool = traffic
    if (opts.statuses !== undefined) {
      await fakes.call('setStatusWebhooks', { ...opts.statuses, url: `${url}/webhook/meta` })
    }
    return {
      env,
      config: cfg,
      fakes,
      front,
      tenant,
      sql: db.sql,
      async postGenesys(body) {
        const raw = JSON.stringify(body)
        const res = await traffic.request({
          path: '/webhook/genesys',
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'x-hub-signature-256': signGenesys(raw, tenant.genesys.webhookSecret),
          },
          body: raw,
        })
        return { status: res.statusCode, body: await res.body.text() }
      },
      async spawnWorker() {
        const spawning = spawnBridge({ ...env, ROLES: 'outbound' })
        starting.add(spawning)
        try {
          const w = await spawning
          children.push(w)
          return w
        } finally {
          starting.delete(spawning)
        }
      },
      close,
    }
  } catch (err) {
    await close()
    throw err
  }
}

/** A counter of a process's /metrics (admin port), summed over its series with the given label. */
export async function counterOf(proc: BridgeProcess, name: string, label: string): Promise<number> {
  const res = await request(`http://127.0.0.1:${proc.ports().adminPort}/metrics`)
  return (await res.body.text())
    .split('\n')
    .filter((l) => l.startsWith(`${name}{`) && l.includes(label))
    .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0)
}

/** Cleanup only, as the harness does: the test's topics and their dead-letter twins. */
async function dropTopics(config: Config): Promise<void> {
  const k = config.kafka
  const admin = createKafka({ brokers: k.brokers, clientId: k.clientId, security: k.security, log: testLog }).admin()
  try {
    await admin.connect()
    const ours = new Set(Object.values(k.topics).flatMap((n) => [n, `${n}.dlq`]))
    const existing = (await admin.listTopics()).filter((n) => ours.has(n))
    if (existing.length > 0) await admin.deleteTopics({ topics: existing, timeout: 10_000 })
  } catch {
    // Cleanup only: a failure here says nothing about the bridge.
  } finally {
    await admin.disconnect().catch(() => undefined)
  }
}
