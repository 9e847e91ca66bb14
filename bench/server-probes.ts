import { readFileSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import type { Admin } from 'kafkajs'
import pino from 'pino'
import type { Config } from '../src/config/config.js'
import { closeDb, createDb, type Sql } from '../src/sinks/db/client.js'
import { createKafka } from '../src/sinks/kafka/client.js'
import { createObjectStore, type ObjectStore } from '../src/sinks/object-store.js'
import { BUCKETS, safeSegment } from '../src/processors/object-keys.js'
import { parseCommandstats, parseProcStatTicks, type CostSample } from './server-costs.js'

/** Reads the counters of server-costs.ts. Every reader is best effort: a server it cannot read is left out. */
export interface CostProbe {
  sample(bridgePids: readonly number[]): Promise<CostSample>
  /**
   * PostgreSQL's counters once its statistics have caught up: a backend publishes them when it goes
   * idle, at most once a second (within 10 s at the latest), so read until they stop moving.
   */
  settledPg(bridgePids: readonly number[]): Promise<CostSample['pg']>
  /**
   * Fresh planner statistics for the bench database, before a step (not counted in it), as
   * autovacuum keeps them on a production server; it is off on this machine's PostgreSQL, and
   * without them the tracking updates were matched on an index prefix, reading every tracked
   * message of the tenant (BENCHMARKS.md, "Found by this table").
   */
  analyze(): Promise<void>
  close(): Promise<void>
}

const PROBE_APP = 'gwb-bench-probe'

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8')
  } catch {
    return undefined
  }
}

/** Every live process: pid → { ticks, ppid, comm }. One pass over /proc per sample. */
function processTable(): Map<number, { ticks: number; ppid: number; comm: string }> {
  const out = new Map<number, { ticks: number; ppid: number; comm: string }>()
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    const stat = readText(`/proc/${name}/stat`)
    const p = stat === undefined ? undefined : parseProcStatTicks(stat)
    if (stat === undefined || p === undefined) continue
    out.set(Number(name), { ...p, comm: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')) })
  }
  return out
}

/**
 * CPU ticks of a process and all its live descendants. A reaped child's time is in its parent's
 * cutime/cstime, so the total only grows: PostgreSQL's short-lived backends are not lost.
 */
function treeTicks(table: ReturnType<typeof processTable>, root: number): number {
  let total = 0
  const todo = [root]
  for (let pid = todo.pop(); pid !== undefined; pid = todo.pop()) {
    total += table.get(pid)?.ticks ?? 0
    for (const [child, p] of table) if (p.ppid === pid) todo.push(child)
  }
  return total
}

/** The servers' root pids: from the pid files of scripts/services.sh, or by command name. */
function serverRoots(root: string, table: ReturnType<typeof processTable>): Record<string, number> {
  const out: Record<string, number> = {}
  const pidFile = (p: string): number | undefined => {
    const pid = Number(readText(join(root, '.services', p))?.trim())
    return table.has(pid) ? pid : undefined
  }
  const files: [string, string][] = [
    ['Kafka', 'kafka/kafka.pid'],
    ['S3Proxy', 's3/s3proxy.pid'],
    ['Apicurio Registry', 'apicurio/apicurio.pid'],
  ]
  for (const [name, file] of files) {
    const pid = pidFile(file)
    if (pid !== undefined) out[name] = pid
  }
  for (const [pid, p] of table) {
    // The postmaster is the postgres process whose parent is not one.
    if (p.comm === 'postgres' && table.get(p.ppid)?.comm !== 'postgres') out['PostgreSQL'] = pid
    if (p.comm === 'redis-server') out['Redis'] = pid
  }
  return out
}

function redisCounters(info: string): { calls: Record<string, number>; usec: number } {
  const { calls, usec } = parseCommandstats(info)
  return { calls, usec }
}

export async function createCostProbe(opts: {
  root: string
  clockTicks: number
  /** The bench bridges' configuration: the same servers, database, security and S3 layout. */
  config: Config
  topicPrefix: string
  tenantId: string
}): Promise<CostProbe> {
  const c = opts.config
  const sql: Sql = createDb(c.databaseUrl, { max: 1, applicationName: PROBE_APP, tls: c.databaseTls })
  const redis = new Redis(c.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 })
  const admin: Admin = createKafka({
    brokers: c.kafka.brokers,
    clientId: 'gwb-bench-probe',
    security: c.kafka.security,
    log: pino({ level: 'silent' }),
  }).admin()
  await admin.connect()
  const { layout, endpoint, accessKey, secretKey, sessionToken, region } = c.s3
  const store: ObjectStore = createObjectStore({ endpoint, accessKey, secretKey, sessionToken, region, layout })
  const logDirs = (readText(join(opts.root, '.services/kafka/server.properties')) ?? '')
    .split('\n')
    .find((l) => l.startsWith('log.dirs='))
    ?.slice('log.dirs='.length)
    .split(',')
  const sec = (ticks: number): number => ticks / opts.clockTicks
  const tolerant = <T>(p: Promise<T>): Promise<T | undefined> => p.catch(() => undefined)

  async function pg(): Promise<{ counters: Record<string, number>; backends: number[] }> {
    const [db] = await sql<Record<string, string>[]>`
      select xact_commit + xact_rollback as xact, tup_returned, tup_fetched, tup_inserted, tup_updated,
             tup_deleted, blks_hit, blks_read
      from pg_stat_database where datname = current_database()`
    const [tables] = await sql<{ idx_scan: string | null; seq_scan: string | null }[]>`
      select sum(idx_scan) as idx_scan, sum(seq_scan) as seq_scan from pg_stat_user_tables`
    const backends = await sql<{ pid: number }[]>`
      select pid from pg_stat_activity
      where datname = current_database() and application_name <> ${PROBE_APP} and backend_type = 'client backend'`
    const counters: Record<string, number> = {}
    for (const [k, v] of Object.entries({ ...db, ...tables })) counters[k] = Number(v ?? 0)
    return { counters, backends: backends.map((b) => b.pid) }
  }

  async function kafka(): Promise<{ records: number; bytes: number }> {
    const topics = (await admin.listTopics()).filter((t) => t.startsWith(opts.topicPrefix))
    let records = 0
    for (const topic of topics) {
      for (const p of await admin.fetchTopicOffsets(topic)) records += Number(p.high)
    }
    let bytes = 0
    for (const dir of logDirs ?? []) {
      for (const d of readdirSync(dir).filter((n) => n.startsWith(opts.topicPrefix))) {
        for (const f of readdirSync(join(dir, d)).filter((n) => n.endsWith('.log')))
          bytes += statSync(join(dir, d, f)).size
      }
    }
    return { records, bytes }
  }

  async function s3(): Promise<{ objects: number; bytes: number }> {
    let objects = 0
    let bytes = 0
    for (const bucket of [BUCKETS.webhooksOutbound, BUCKETS.webhooksInbound]) {
      for (const o of await store.listObjects(bucket, `${safeSegment(opts.tenantId)}/`)) {
        objects++
        bytes += o.size
      }
    }
    return { objects, bytes }
  }

  const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))
  const probe: CostProbe = {
    async analyze() {
      await sql`analyze`
    },
    async settledPg(bridgePids) {
      let s = await probe.sample(bridgePids)
      for (let i = 0; i < 12; i++) {
        await sleep(1000)
        const next = await probe.sample(bridgePids)
        const settled = next.pg?.['xact'] === s.pg?.['xact'] && next.pg?.['tup_inserted'] === s.pg?.['tup_inserted']
        s = next
        if (settled) break
      }
      return s.pg
    },
    async sample(bridgePids) {
      const [pgNow, info, kafkaNow, s3Now] = await Promise.all([
        tolerant(pg()),
        tolerant(redis.info('commandstats')),
        tolerant(kafka()),
        tolerant(s3()),
      ])
      // /proc last, right after the servers answered: the CPU those answers cost is in.
      const table = processTable()
      const serverCpuS: Record<string, number> = {}
      for (const [name, pid] of Object.entries(serverRoots(opts.root, table)))
        serverCpuS[name] = sec(treeTicks(table, pid))
      const pgBackendCpuS: Record<string, number> = {}
      for (const pid of pgNow?.backends ?? []) pgBackendCpuS[String(pid)] = sec(table.get(pid)?.ticks ?? 0)
      return {
        bridgeCpuS: bridgePids.reduce((s, pid) => s + sec(treeTicks(table, pid)), 0),
        serverCpuS,
        ...(pgNow === undefined ? {} : { pg: pgNow.counters, pgBackendCpuS }),
        ...(info === undefined ? {} : { redis: redisCounters(info) }),
        ...(kafkaNow === undefined ? {} : { kafka: kafkaNow }),
        ...(s3Now === undefined ? {} : { s3: s3Now }),
      }
    },
    async close() {
      await Promise.allSettled([sql.end({ timeout: 5 }), admin.disconnect()])
      redis.disconnect()
      store.close()
    },
  }
  return probe
}

/** A URL with another path: the same server, another database (or Redis db number). */
export const withPath = (url: string, path: string): string =>
  Object.assign(new URL(url), { pathname: `/${path}` }).href

/** Creates the bench's database when it does not exist yet (CREATE DATABASE cannot run inside it). */
export async function ensureDatabase(url: string): Promise<void> {
  const name = decodeURIComponent(new URL(url).pathname.slice(1))
  const admin = createDb(withPath(url, 'postgres'), { max: 1 })
  try {
    const [row] = await admin`select 1 as found from pg_database where datname = ${name}`
    if (row === undefined) await admin.unsafe(`create database "${name.replace(/"/g, '""')}"`)
  } finally {
    await closeDb(admin)
  }
}
