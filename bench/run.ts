import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { randomBytes, randomUUID } from 'node:crypto'
import { createWriteStream, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { cpus, loadavg, release, totalmem } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { loadConfig } from '../src/config/config.js'
import { buildOutbound } from '../src/fakes/genesys-webhooks.js'
import { signGenesys } from '../src/fakes/sign.js'
import { projectRoot, migrationsPath } from '../src/paths.js'
import { closeDb, createDb } from '../src/sinks/db/client.js'
import { upsertMapping } from '../src/sinks/db/mappings.js'
import { migrate } from '../src/sinks/db/migrate.js'
import { upsertTenant } from '../src/sinks/db/tenants.js'
import { benchChart } from './charts.js'
import { profileStages } from './cpu-stages.js'
import { readProfiles } from './profile-summary.js'
import { stepCosts, type CostSample } from './server-costs.js'
import { createCostProbe, ensureDatabase, withPath } from './server-probes.js'
import { kafkaVersion, kafkajsCeiling, producerPerformance } from './kafka-ceiling.js'
import { diffHistograms, durations, eventLoopLag, mergeHistograms, stageLatencies } from './prom-histograms.js'
import {
  bridgeUsPerMessage,
  renderMarkdown,
  replaceGenerated,
  type BenchResult,
  type IngestCeiling,
  type LoadClientFigures,
  type StepResult,
} from './report.js'
import {
  benchText,
  nowMs,
  checkDelivery,
  parseBenchText,
  roundSummary,
  stepHolds,
  summarize,
  type DeliveredMessage,
} from './stats.js'
import { driveLoad, type BuildWebhook, type Conv, type Load } from './load.js'
import { benchTenant } from './tenant.js'

const HELP = `npm run bench -- [options]

Drives signed Genesys webhooks at fixed rates into a bridge child process (all roles), with the
fake Meta (its own process) recording arrivals; reports ingest and end-to-end latency, throughput,
loss/duplicates/reordering, bridge CPU and RSS, the cost of a delivered message to the bridge and
to each server (CPU, PostgreSQL, Redis, Kafka, S3; with --cpu-prof also per stage), plus Kafka and
HTTP ceilings from the same run.

  --rates 250,500,...      offered rates in req/s (default 250,500,1000,2000,4000,5000)
  --duration <s>           seconds per rate step (default 30; --quick 10)
  --quick                  short steps (rates 250,500,1000,2000 × 10 s, small ceilings); < 5 min
  --search                 find the highest rate held 60 s (--quick: 15 s) with no loss/errors and
                           e2e p99 < 1.5 s; rates from --search-rates (default 500,1000,1500,2000,3000,4000,5000)
  --meta-latency m,p99     fake Meta latency median,p99 ms (default 150,600)
  --conversations <n>      conversations the load is spread over (default 2000)
  --connections <n>        connections of the load (default: max(32, rate/10))
  --partitions <n>         TOPIC_PARTITIONS (default 12)
  --outbound-procs <n>     bridge processes running the outbound role (default 1: one process, all roles)
  --load open|autocannon   the rated steps' load (default open): Poisson arrivals at the rate, latency from each
                           request's scheduled arrival (bench/open-loop.ts); autocannon = its per-second
                           quota per connection, in --waves staggered instances (the bench before 2026-11-30)
  --waves <k>              staggered autocannon instances per step, spreading each second's requests (default 10)
  --split                  ingest and archive in one process, outbound in --outbound-procs others
  --bridge-env K=V         extra bridge environment (repeatable), e.g. PROCESSING_CONCURRENCY=1024
  --cpu-prof               run the bridge under node --cpu-prof (profiles in the run's log dir)
  --no-ceilings            skip the Kafka and node:http ceilings
  --database <name>        the bench's own PostgreSQL database (default gwb_bench; created if missing),
                           on the server of DATABASE_URL
  --redis-db <n>           the bench's own Redis database number (default 2), on the server of REDIS_URL
  --skip-services          do not run scripts/services.sh up
  --name <name>            results file name (default: quick | full | search, plus a timestamp-free name)
  --write-md               rewrite the generated section of BENCHMARKS.md from this run
  --help
`

const { values: a } = parseArgs({
  options: {
    rates: { type: 'string' },
    duration: { type: 'string' },
    quick: { type: 'boolean', default: false },
    search: { type: 'boolean', default: false },
    'search-rates': { type: 'string', default: '500,1000,1500,2000,3000,4000,5000' },
    'meta-latency': { type: 'string', default: '150,600' },
    conversations: { type: 'string', default: '2000' },
    connections: { type: 'string' },
    partitions: { type: 'string', default: '12' },
    'outbound-procs': { type: 'string', default: '1' },
    split: { type: 'boolean' },
    load: { type: 'string', default: 'open' },
    waves: { type: 'string', default: '10' },
    'bridge-env': { type: 'string', multiple: true },
    'cpu-prof': { type: 'boolean', default: false },
    'no-ceilings': { type: 'boolean', default: false },
    'skip-services': { type: 'boolean', default: false },
    database: { type: 'string', default: 'gwb_bench' },
    'redis-db': { type: 'string', default: '2' },
    name: { type: 'string' },
    'write-md': { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
  strict: true,
})
if (a.help) {
  process.stdout.write(HELP)
  process.exit(0)
}

const quick = a.quick ?? false
const rates = (a.rates ?? (quick ? '250,500,1000,2000' : '250,500,1000,2000,4000,5000')).split(',').map(Number)
const duration = Number(a.duration ?? (quick ? 10 : 30))
const searchDuration = Number(a.duration ?? (quick ? 15 : 60))
const conversations = Number(a.conversations)
const partitions = Number(a.partitions)
const outboundProcs = Number(a['outbound-procs'])
const waveCount = Number(a.waves)
const loadKind = a.load
if (loadKind !== 'open' && loadKind !== 'autocannon')
  throw new Error(`--load must be open or autocannon, got ${a.load}`)
const bridgeEnv: Record<string, string> = {}
for (const kv of a['bridge-env'] ?? []) {
  const i = kv.indexOf('=')
  if (i <= 0) throw new Error(`--bridge-env expects K=V, got ${kv}`)
  bridgeEnv[kv.slice(0, i)] = kv.slice(i + 1)
}
const name = a.name ?? (a.search ? (quick ? 'search-quick' : 'search') : quick ? 'quick' : 'full')
const runId = `b${Date.now().toString(36)}`
const logDir = join('/tmp', `gwb-bench-${runId}`)
mkdirSync(logDir, { recursive: true })
const resultsDir = join(projectRoot, 'bench', 'results')
mkdirSync(resultsDir, { recursive: true })
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))
const say = (s: string): void => void process.stderr.write(`[bench] ${s}\n`)

// ------------------------------------------------------------------------------------ processes

const children: ChildProcess[] = []
function startNode(script: string, args: string[], env: Record<string, string>, tag: string, nodeArgs: string[] = []) {
  const child = spawn(process.execPath, [...nodeArgs, join(projectRoot, 'dist', script), ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    cwd: logDir,
  })
  children.push(child)
  const log = createWriteStream(join(logDir, `${tag}.log`))
  child.stderr?.pipe(log)
  const firstLine = new Promise<Record<string, unknown>>((resolve, reject) => {
    let buf = ''
    const onData = (d: Buffer): void => {
      buf += d.toString()
      log.write(d)
      const nl = buf.indexOf('\n')
      if (nl >= 0) {
        const line = buf.slice(0, nl)
        try {
          resolve(JSON.parse(line) as Record<string, unknown>)
        } catch {
          resolve({ line })
        }
      }
    }
    child.stdout?.on('data', onData)
    child.once('exit', (code) => reject(new Error(`${tag} exited with ${code}; see ${join(logDir, `${tag}.log`)}`)))
  })
  return { child, firstLine }
}

async function stopChild(child: ChildProcess, timeoutMs = 20_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>((r) => child.once('exit', () => r()))
  child.kill('SIGTERM')
  const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
  await exited
  clearTimeout(t)
}

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address()
      const p = typeof addr === 'object' && addr !== null ? addr.port : 0
      s.close(() => resolve(p))
    })
  })

async function waitHttp(url: string, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs
  for (;;) {
    try {
      const r = await fetch(url)
      if (r.status === 200) return
    } catch {
      // not yet listening
    }
    if (Date.now() > end) throw new Error(`${url} not ready after ${timeoutMs} ms`)
    await sleep(250)
  }
}

const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100
function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(f[11]) + Number(f[12])) / CLK_TCK // utime, stime (fields 14, 15)
  } catch {
    return 0
  }
}
function rssMb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m === null ? 0 : Number(m[1]) / 1024
  } catch {
    return 0
  }
}

// ------------------------------------------------------------------------------------ the run

if (!a['skip-services']) {
  say('scripts/services.sh up')
  const up = spawnSync('bash', [join(projectRoot, 'scripts/services.sh'), 'up'], {
    stdio: ['ignore', 'ignore', 'inherit'],
  })
  if (up.status !== 0) throw new Error('scripts/services.sh up failed')
}

const credentialsKey = randomBytes(32)
const tenant = benchTenant(runId)
const convs: Conv[] = Array.from({ length: conversations }, (_, i) => ({
  id: randomUUID(),
  waId: `44${String(7_000_000_000 + i)}`,
  seq: 0,
}))

const baseEnv: Record<string, string> = {
  KAFKA_BROKERS: process.env['KAFKA_BROKERS'] ?? '127.0.0.1:9092',
  // The bench's own database and Redis db (BENCH_DATABASE_URL / BENCH_REDIS_URL, or --database and
  // --redis-db on the servers of DATABASE_URL / REDIS_URL), never the sandbox's (gwb, db 0).
  DATABASE_URL:
    process.env['BENCH_DATABASE_URL'] ??
    withPath(process.env['DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/gwb', a.database ?? ''),
  REDIS_URL:
    process.env['BENCH_REDIS_URL'] ??
    withPath(process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379/0', a['redis-db'] ?? ''),
  S3_BUCKET_PREFIX: 'gwb-bench-',
  S3_ACCESS_KEY: process.env['S3_ACCESS_KEY'] ?? 'gwb-local',
  S3_SECRET_KEY: process.env['S3_SECRET_KEY'] ?? 'gwb-local-secret-key',
  CREDENTIALS_KEY: credentialsKey.toString('base64'),
  TOPIC_PREFIX: `bench-${runId}-`,
  TOPIC_PARTITIONS: String(partitions),
  HTTP_HOST: '127.0.0.1',
  LOG_LEVEL: 'warn',
  // Nothing balances load onto the bench's bridges: stop without the readiness grace period.
  SHUTDOWN_DRAIN_MS: '0',
  // One bench number stands for many: Meta's 80/s per number would cap the whole run.
  META_SEND_RATE_PER_NUMBER: '100000',
  META_SEND_BURST_PER_NUMBER: '100000',
}

// The bench's own Kafka clients reach the cluster as the bridges do (KAFKA_SECURITY_PROTOCOL and friends).
const benchConfig = loadConfig({ ...process.env, ...baseEnv })
const kafkaSecurity = benchConfig.kafka.security

say(`run ${runId}: provisioning tenant ${tenant.id} and ${conversations} conversation mappings`)
await ensureDatabase(baseEnv['DATABASE_URL'] as string)
{
  const sql = createDb(baseEnv['DATABASE_URL'] as string, { max: 4 })
  await migrate(sql, migrationsPath)
  await upsertTenant(sql, credentialsKey, tenant)
  for (let i = 0; i < convs.length; i += 200) {
    await Promise.all(
      convs.slice(i, i + 200).map((c) =>
        upsertMapping(sql, {
          tenantId: tenant.id,
          conversationId: c.id,
          waId: c.waId,
          phoneNumberId: tenant.whatsapp.phoneNumberId,
        }),
      ),
    )
  }
  await closeDb(sql)
}

const probe = await createCostProbe({
  root: projectRoot,
  clockTicks: CLK_TCK,
  config: benchConfig,
  topicPrefix: baseEnv['TOPIC_PREFIX'] as string,
  tenantId: tenant.id,
})

const [metaMedian, metaP99] = (a['meta-latency'] ?? '150,600').split(',').map(Number)
const fakes = startNode(
  'bench/fake-meta-proc.js',
  [
    '--latency',
    a['meta-latency'] ?? '150,600',
    '--number',
    `${tenant.whatsapp.phoneNumberId}:${tenant.whatsapp.accessToken}:${tenant.whatsapp.appSecret}`,
  ],
  {},
  'fake-meta',
)
const fakesInfo = await fakes.firstLine
const metaUrl = String(fakesInfo['metaUrl'])
const recordsUrl = String(fakesInfo['recordsUrl'])
say(`fake Meta at ${metaUrl} (latency median ${metaMedian} ms, p99 ${metaP99} ms)`)

// Arrivals at the fake, drained continuously.
const deliveries: DeliveredMessage[] = []
let foreign = 0
async function drainFake(): Promise<void> {
  const r = await fetch(`${recordsUrl}/__drain`)
  const { items } = (await r.json()) as { items: [number, number, number, string][] }
  for (const [, arrivedAtMs, status, text] of items) {
    const p = status === 200 ? parseBenchText(text) : undefined
    if (p === undefined) foreign++
    else deliveries.push({ conversation: p.conversation, seq: p.seq, arrivedAtMs })
  }
}
let draining = true
const drainLoop = (async () => {
  while (draining) {
    await drainFake().catch(() => undefined)
    await sleep(200)
  }
})()

const bridges: { child: ChildProcess; port: number; adminPort: number }[] = []
/**
 * bridge-0 runs `roles` and answers webhooks on the returned port; `outboundOnly` more processes run
 * outbound. Each gets a known admin port, so the step can read every process's /metrics.
 */
async function startBridges(
  roles: string,
  outboundOnly: number,
  extraEnv: Record<string, string> = {},
): Promise<number> {
  const nodeArgs = a['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${join(logDir, 'profiles')}`] : []
  const env = { ...baseEnv, META_GRAPH_URL: metaUrl, ...bridgeEnv, ...extraEnv }
  for (let i = 0; i <= outboundOnly; i++) {
    const [port, adminPort] = [await freePort(), await freePort()]
    const b = startNode(
      'src/main.js',
      [],
      { ...env, ROLES: i === 0 ? roles : 'outbound', HTTP_PORT: String(port), ADMIN_PORT: String(adminPort) },
      `bridge-${i}`,
      nodeArgs,
    )
    b.firstLine.catch(() => undefined)
    bridges.push({ child: b.child, port, adminPort })
  }
  const first = bridges[0] as (typeof bridges)[number]
  await waitHttp(`http://127.0.0.1:${first.adminPort}/ready`, 120_000)
  return first.port
}
async function stopBridges(): Promise<void> {
  await Promise.all(bridges.splice(0).map((b) => stopChild(b.child)))
}
const bridgePids = (): number[] => bridges.map((b) => b.child.pid ?? 0).filter((p) => p > 0)

/** Every bridge process's /metrics text ('' for a process that does not answer). */
async function scrapeBridges(): Promise<string[]> {
  return Promise.all(
    bridges.map(async (b) => {
      try {
        const res = await fetch(`http://127.0.0.1:${b.adminPort}/metrics`, { signal: AbortSignal.timeout(5000) })
        return res.ok ? await res.text() : ''
      } catch {
        return ''
      }
    }),
  )
}

const lastSeq = new Map<string, number>()

const webhook: BuildWebhook = (conv, seq, at) => {
  const body = JSON.stringify(
    buildOutbound({
      integrationId: tenant.genesys.integrationId,
      conversationId: conv.id,
      toId: conv.waId,
      text: benchText(conv.id, seq, at),
    }),
  )
  return {
    body,
    headers: {
      'content-type': 'application/json',
      'x-hub-signature-256': signGenesys(body, tenant.genesys.webhookSecret),
    },
  }
}
/** The load generator's own figures, only those its kind has (the JSON stays free of undefined). */
const clientFigures = ({ autocannonLatencyMs, dispatchLagMs, skipped }: LoadClientFigures): LoadClientFigures => ({
  ...(autocannonLatencyMs !== undefined ? { autocannonLatencyMs } : {}),
  ...(dispatchLagMs !== undefined ? { dispatchLagMs } : {}),
  ...(skipped !== undefined ? { skipped } : {}),
})
const drive = (load: Omit<Load, 'kind' | 'waves'>) =>
  driveLoad({ ...load, kind: loadKind, waves: waveCount }, convs, webhook)

async function runStep(rate: number, seconds: number, url: string, label: string): Promise<StepResult> {
  const connections = Number(a.connections ?? Math.max(32, Math.ceil(rate / 10)))
  const from = deliveries.length
  const pids = bridgePids()
  await probe.analyze()
  const cost0 = await probe.sample(pids)
  const cpu0 = pids.reduce((s, p) => s + cpuSeconds(p), 0)
  const loadAvg = Math.round((loadavg()[0] ?? 0) * 100) / 100
  let peakRss = 0
  const rssTimer = setInterval(() => {
    peakRss = Math.max(
      peakRss,
      pids.reduce((s, p) => s + rssMb(p), 0),
    )
  }, 250)
  say(`${label}: ${rate} req/s × ${seconds} s over ${connections} connections`)
  const before = await scrapeBridges()
  const load = await drive({ rate, seconds, connections, url })
  const cpu1 = pids.reduce((s, p) => s + cpuSeconds(p), 0)
  // Drain: until every acknowledged message arrived, no progress for 15 s, or 3 minutes.
  const want = new Set(load.sent.map((s) => `${s.conversation} ${s.seq}`))
  const drainStart = performance.now()
  let lastCount = -1
  let lastProgress = performance.now()
  let drainedAll = false
  for (;;) {
    await drainFake().catch(() => undefined)
    let got = 0
    for (let i = from; i < deliveries.length; i++) {
      const d = deliveries[i] as DeliveredMessage
      if (want.has(`${d.conversation} ${d.seq}`)) got++
    }
    if (got >= want.size) {
      drainedAll = true
      break
    }
    if (got !== lastCount) {
      lastCount = got
      lastProgress = performance.now()
    }
    if (performance.now() - lastProgress > 15_000 || performance.now() - drainStart > 180_000) break
    await sleep(250)
  }
  // CPU and counters at the end of the drain: the step's own work, not the waits below.
  const drained = await probe.sample(pids)
  await sleep(1000) // late duplicates
  await drainFake().catch(() => undefined)
  clearInterval(rssTimer)
  const cost1: CostSample = { ...drained, pg: (await probe.settledPg(pids)) ?? drained.pg }
  const after = await scrapeBridges()
  const stages = stageLatencies(
    mergeHistograms(after.map((t, i) => diffHistograms(durations(before[i] ?? ''), durations(t)))),
  )
  const loopLag = eventLoopLag(after)
  const window = deliveries.slice(from)
  const rep = checkDelivery(load.sent, window, lastSeq)
  const e2e = roundSummary(summarize(rep.endToEndMs))
  const ingest = roundSummary(summarize(load.ingestMs))
  const arrivals = rep.endToEndMs.length
  const lastArrival = window.reduce((m, d) => Math.max(m, d.arrivedAtMs), 0)
  const firstSend = load.sent.reduce((m, s) => Math.min(m, s.sentAtMs), Infinity)
  const step: StepResult = {
    label,
    targetRate: rate,
    seconds: Math.round(load.seconds * 10) / 10,
    connections,
    requests: load.ingestMs.length,
    achievedRate: Math.round(load.ingestMs.length / load.seconds),
    acceptedRate: Math.round(load.sent.length / load.seconds),
    deliveredRate: arrivals > 0 ? Math.round(arrivals / ((lastArrival - firstSend) / 1000)) : 0,
    statuses: load.statuses,
    errors: load.errors,
    timeouts: load.timeouts,
    ingestMs: ingest,
    ...clientFigures(load),
    endToEndMs: e2e,
    sent: rep.sent,
    delivered: rep.delivered,
    lost: rep.lost,
    duplicated: rep.duplicated,
    outOfOrder: rep.outOfOrder,
    unacknowledged: rep.unacknowledged,
    drainedAll,
    drainSeconds: Math.round((performance.now() - drainStart) / 100) / 10,
    bridgeCpuPercent: Math.round(((cpu1 - cpu0) / load.seconds) * 1000) / 10,
    bridgePeakRssMb: Math.round(peakRss),
    loadAvg1mAtStart: loadAvg,
    holds: false,
    why: [],
    stages,
    eventLoopLagMs: loopLag,
    costs: stepCosts(cost0, cost1, arrivals),
  }
  const v = stepHolds({ ...step, e2eP99Ms: e2e.p99 })
  step.holds = v.ok
  step.why = v.why
  say(
    `  ingest p50/p99 ${ingest.p50}/${ingest.p99} ms, e2e p50/p99 ${e2e.p50}/${e2e.p99} ms, ` +
      `achieved ${step.achievedRate}/s, lost ${rep.lost}, dup ${rep.duplicated}, ooo ${rep.outOfOrder}, ` +
      `errors ${step.errors}, cpu ${step.bridgeCpuPercent}% (${bridgeUsPerMessage(step) ?? '–'} µs/msg), ` +
      `rss ${step.bridgePeakRssMb} MB` +
      (load.dispatchLagMs !== undefined ? `, client lag p99 ${load.dispatchLagMs.p99} ms` : '') +
      (v.ok ? '' : `  ✗ ${v.why.join('; ')}`),
  )
  say(
    `  slowest: ${stages
      .slice(0, 5)
      .map((r) => `${r.series} mean ${r.meanMs} p99 ${r.p99Ms ?? '–'} ms`)
      .join('; ')}`,
  )
  return step
}

async function ingestCeiling(kind: 'node:http (bridge, ROLES=ingest)', seconds: number) {
  const port = await freePort()
  const p = startNode(
    'src/main.js',
    [],
    { ...baseEnv, META_GRAPH_URL: metaUrl, ROLES: 'ingest', HTTP_PORT: String(port), ADMIN_PORT: '0' },
    'ingest-only',
  )
  p.firstLine.catch(() => undefined)
  const child = p.child
  await waitHttp(`http://127.0.0.1:${port}/health`, 120_000)
  const url = `http://127.0.0.1:${port}`
  await drive({ rate: undefined, seconds: 2, connections: 32, url }) // warm-up
  const pid = child.pid ?? 0
  const c0 = cpuSeconds(pid)
  const out = await drive({ rate: undefined, seconds, connections: 32, url })
  const c1 = cpuSeconds(pid)
  await stopChild(child)
  const r: IngestCeiling = {
    server: kind,
    connections: 32,
    seconds: Math.round(out.seconds * 10) / 10,
    rate: Math.round(out.sent.length / out.seconds),
    errors: out.errors,
    latencyMs: roundSummary(summarize(out.ingestMs)),
    cpuPercent: Math.round(((c1 - c0) / out.seconds) * 1000) / 10,
  }
  say(`  ${kind}: ${r.rate} req/s, p50/p99 ${r.latencyMs.p50}/${r.latencyMs.p99} ms, cpu ${r.cpuPercent}%`)
  return r
}

const startedAt = new Date()
const result: BenchResult = {
  name,
  runId,
  startedAt: startedAt.toISOString(),
  command: `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim(),
  machine: {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    ramGb: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
  },
  versions: versions(),
  settings: {
    metaLatency: { medianMs: metaMedian ?? 150, p99Ms: metaP99 ?? 600 },
    conversations,
    partitions,
    outboundProcs,
    split: a.split ?? false,
    bridgeEnv,
    stepSeconds: a.search ? searchDuration : duration,
    percentiles: 'nearest-rank',
    loadGenerator:
      loadKind === 'open'
        ? 'open loop (bench/open-loop.ts, same machine): Poisson arrivals at the offered rate, raw keep-alive client, latency from each scheduled arrival; ceilings by autocannon'
        : `autocannon (library, same machine), overallRate, pipelining 1, ${waveCount} instances staggered over each second`,
  },
  steps: [],
  search: undefined,
  ceilings: { ingest: [], kafkajs: undefined, producerPerformance: undefined },
}

try {
  const port = a.split
    ? await startBridges('ingest,archive', outboundProcs)
    : await startBridges('ingest,outbound,archive', outboundProcs - 1)
  const url = `http://127.0.0.1:${port}`
  say(`bridge ready on ${url} (${a.split ? 'ingest separate, ' : ''}${outboundProcs} outbound process(es)); warming up`)
  await runStep(50, 5, url, 'warm-up')

  if (a.search) {
    const searchRates = (a['search-rates'] ?? '').split(',').map(Number)
    let best: number | undefined
    let failedAt: number | undefined
    for (const r of searchRates) {
      const s = await runStep(r, searchDuration, url, `search ${r}`)
      result.steps.push(s)
      if (s.holds) best = r
      else {
        failedAt = r
        break
      }
    }
    if (best !== undefined && failedAt !== undefined && failedAt - best > 250) {
      const mid = Math.round((best + failedAt) / 2 / 50) * 50
      const s = await runStep(mid, searchDuration, url, `search ${mid}`)
      result.steps.push(s)
      if (s.holds) best = mid
    }
    result.search = {
      heldRate: best ?? 0,
      seconds: searchDuration,
      criterion: 'no errors, no loss, no duplicates, in order, achieved ≥ 95%, e2e p99 < 1.5 s',
    }
    say(`search: highest rate held ${searchDuration} s: ${best ?? 0} req/s`)
  } else {
    for (const r of rates) {
      const s = await runStep(r, duration, url, `step ${r}`)
      result.steps.push(s)
      if (!s.drainedAll || s.deliveredRate < 0.5 * s.acceptedRate) {
        say(`  saturated at ${r} req/s; skipping higher rates`)
        break
      }
    }
  }
  await stopBridges()
  if (a['cpu-prof']) result.cpuProfile = profileStages(readProfiles(join(logDir, 'profiles')), result.steps)

  if (!a['no-ceilings']) {
    say('ceilings')
    const cs = quick ? 5 : 15
    result.ceilings.ingest.push(await ingestCeiling('node:http (bridge, ROLES=ingest)', cs))
    const sample = JSON.stringify(
      buildOutbound({
        integrationId: tenant.genesys.integrationId,
        conversationId: randomUUID(),
        toId: '447000000000',
        text: benchText(randomUUID(), 1, nowMs()),
      }),
    )
    // The envelope carries the raw body plus ids and times: about 150 bytes of Avro on top.
    const recordBytes = Buffer.byteLength(sample) + 150
    const n = quick ? 30_000 : 150_000
    result.ceilings.kafkajs = await kafkajsCeiling({
      brokers: [baseEnv['KAFKA_BROKERS'] as string],
      security: kafkaSecurity,
      topic: `bench-${runId}-ceiling-kafkajs`,
      records: n,
      recordBytes,
      partitions,
    })
    say(`  kafkajs produce→consume: ${JSON.stringify(result.ceilings.kafkajs)}`)
    result.ceilings.producerPerformance = await producerPerformance({
      root: projectRoot,
      brokers: [baseEnv['KAFKA_BROKERS'] as string],
      security: kafkaSecurity,
      topic: `bench-${runId}-ceiling-pp`,
      partitions,
      records: quick ? 30_000 : 200_000,
      recordBytes,
    })
    say(`  ProducerPerformance: ${JSON.stringify(result.ceilings.producerPerformance)}`)
  }
} finally {
  draining = false
  await drainLoop
  await stopBridges()
  await probe.close()
  await Promise.all(children.map((c) => stopChild(c)))
}

result.finishedAt = new Date().toISOString()
result.unmatchedArrivals = foreign
writeFileSync(join(resultsDir, `${name}.json`), `${JSON.stringify(result, null, 2)}\n`)
writeFileSync(join(resultsDir, `${name}.svg`), benchChart(result))
const md = renderMarkdown(result, `bench/results/${name}.svg`)
writeFileSync(join(resultsDir, `${name}.md`), md)
if (a['write-md']) {
  const path = join(projectRoot, 'BENCHMARKS.md')
  writeFileSync(path, replaceGenerated(readFileSync(path, 'utf8'), md))
}
process.stdout.write(md)
say(`results: bench/results/${name}.json, .svg, .md; logs in ${logDir}`)
process.exit(0)

function versions(): Record<string, string> {
  const pkgVersion = (p: string): string => {
    try {
      return (
        JSON.parse(readFileSync(join(projectRoot, 'node_modules', p, 'package.json'), 'utf8')) as { version: string }
      ).version
    } catch {
      return 'unknown'
    }
  }
  const sh = (cmd: string): string => spawnSync('bash', ['-c', cmd], { encoding: 'utf8' }).stdout.trim()
  return {
    node: process.version,
    kafka: kafkaVersion(projectRoot),
    kafkajs: pkgVersion('kafkajs'),
    autocannon: pkgVersion('autocannon'),
    postgres: sh(`psql -h 127.0.0.1 -U postgres -d postgres -tAc 'SHOW server_version' 2>/dev/null | cut -d' ' -f1`),
    redis: sh(`redis-cli -h 127.0.0.1 INFO server 2>/dev/null | sed -n 's/^redis_version:\\(.*\\)\\r$/\\1/p'`),
    java: sh(`java -version 2>&1 | head -n 1`),
  }
}
