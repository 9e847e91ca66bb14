import autocannon, { type AutocannonRequest } from 'autocannon'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { randomBytes, randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { buildOutbound } from '../src/fakes/genesys-webhooks.js'
import { signGenesys } from '../src/fakes/sign.js'
import { migrationsPath } from '../src/paths.js'
import { closeDb, createDb } from '../src/sinks/db/client.js'
import { migrate } from '../src/sinks/db/migrate.js'
import { upsertTenant } from '../src/sinks/db/tenants.js'
import { driveOpenLoop } from './open-loop.js'
import { summarize } from './stats.js'
import { benchTenant } from './tenant.js'

const HELP = `node dist/bench/ingest-ab.js --variant LABEL=NODE_BINARY:PROJECT_ROOT [--variant ...] [options]

A/B of the ingest HTTP server: each variant runs a built bridge (PROJECT_ROOT/dist/src/main.js,
ROLES=ingest) under its own Node binary; signed Genesys webhooks are driven at it unthrottled (the
ceiling) and at a fixed rate (latency and CPU where the bridge actually runs). Variants alternate
within each round, so load from other work on the machine falls on all of them alike.

  --seconds <s>     seconds per measurement (default 8)
  --rounds <n>      rounds (default 3); the report gives the median of the rounds
  --rate <r>        the fixed rate in req/s (default 1000)
  --connections <n> connections (default 32)
  --load open|autocannon  the fixed rate's load (default open: Poisson arrivals, bench/open-loop.ts;
                    autocannon: its per-second quota per connection, sent as a burst)
`

const { values: a } = parseArgs({
  options: {
    variant: { type: 'string', multiple: true },
    seconds: { type: 'string', default: '8' },
    rounds: { type: 'string', default: '3' },
    rate: { type: 'string', default: '1000' },
    connections: { type: 'string', default: '32' },
    load: { type: 'string', default: 'open' },
    help: { type: 'boolean', default: false },
  },
})
if (a.load !== 'open' && a.load !== 'autocannon') {
  process.stderr.write(`--load must be open or autocannon, got ${a.load}\n`)
  process.exit(2)
}
if (a.help || (a.variant ?? []).length === 0) {
  process.stdout.write(HELP)
  process.exit(a.help ? 0 : 2)
}
const variants = (a.variant ?? []).map((v) => {
  const m = /^([^=]+)=([^:]+):(.+)$/.exec(v)
  if (m === null) throw new Error(`--variant expects LABEL=NODE_BINARY:PROJECT_ROOT, got ${v}`)
  return { label: m[1] as string, node: m[2] as string, root: m[3] as string }
})
const seconds = Number(a.seconds)
const rounds = Number(a.rounds)
const rate = Number(a.rate)
const connections = Number(a.connections)
const say = (s: string): void => void process.stderr.write(`[ab] ${s}\n`)

const runId = `ab${Date.now().toString(36)}`
const credentialsKey = randomBytes(32)
const tenant = benchTenant(runId)
const databaseUrl = process.env['DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/gwb'
{
  const sql = createDb(databaseUrl, { max: 2 })
  await migrate(sql, migrationsPath)
  await upsertTenant(sql, credentialsKey, tenant)
  await closeDb(sql)
}

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address()
      s.close(() => resolve(typeof addr === 'object' && addr !== null ? addr.port : 0))
    })
  })

const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(f[11]) + Number(f[12])) / CLK_TCK
}

async function start(v: (typeof variants)[number]): Promise<{ child: ChildProcess; url: string; out: () => string }> {
  const port = await freePort()
  const child = spawn(v.node, [join(v.root, 'dist/src/main.js')], {
    env: {
      ...process.env,
      ROLES: 'ingest',
      HTTP_HOST: '127.0.0.1',
      HTTP_PORT: String(port),
      ADMIN_PORT: '0',
      SHUTDOWN_DRAIN_MS: '0',
      INGEST_RATE_PER_SOURCE: '0',
      LOG_LEVEL: 'warn',
      DATABASE_URL: databaseUrl,
      CREDENTIALS_KEY: credentialsKey.toString('base64'),
      TOPIC_PREFIX: `bench-${runId}-`,
      TOPIC_PARTITIONS: '12',
      S3_ACCESS_KEY: process.env['S3_ACCESS_KEY'] ?? 'gwb-local',
      S3_SECRET_KEY: process.env['S3_SECRET_KEY'] ?? 'gwb-local-secret-key',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  child.stdout?.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-20_000)))
  child.stderr?.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-20_000)))
  const url = `http://127.0.0.1:${port}`
  const end = Date.now() + 120_000
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${v.label} exited (${child.exitCode}):\n${out}`)
    const ok = await fetch(`${url}/health`).then(
      (r) => r.status === 200,
      () => false,
    )
    if (ok) return { child, url, out: () => out }
    if (Date.now() > end) throw new Error(`${v.label} did not answer /health:\n${out}`)
    await new Promise((r) => setTimeout(r, 250))
  }
}

interface Measure {
  rps: number
  p50: number
  p99: number
  non2xx: number
  errors: number
  cpu: number
}

function signedWebhook(): { body: string; headers: Record<string, string> } {
  const body = JSON.stringify(
    buildOutbound({
      integrationId: tenant.genesys.integrationId,
      conversationId: randomUUID(),
      toId: '447000000000',
      text: `ab ${randomUUID()}`,
    }),
  )
  const signature = signGenesys(body, tenant.genesys.webhookSecret)
  return { body, headers: { 'content-type': 'application/json', 'x-hub-signature-256': signature } }
}

/** The fixed rate as an open loop: latency from each scheduled arrival (bench/open-loop.ts). */
async function driveOpen(url: string, pid: number, offered: number, secs: number): Promise<Measure> {
  const ms: number[] = []
  let ok = 0
  let non2xx = 0
  const c0 = cpuSeconds(pid)
  const out = await driveOpenLoop({
    url,
    path: '/webhook/genesys',
    rate: offered,
    seconds: secs,
    connections,
    next: () => ({
      ...signedWebhook(),
      done: (status, latencyMs) => {
        ms.push(latencyMs)
        if (status !== undefined && status >= 200 && status < 300) ok++
        else if (status !== undefined) non2xx++
      },
    }),
  })
  const lat = summarize(ms)
  return {
    rps: Math.round(ok / out.seconds),
    p50: Math.round(lat.p50 * 10) / 10,
    p99: Math.round(lat.p99 * 10) / 10,
    non2xx,
    errors: out.errors + out.timeouts,
    cpu: Math.round(((cpuSeconds(pid) - c0) / out.seconds) * 1000) / 10,
  }
}

async function drive(url: string, pid: number, offered: number | undefined, secs: number): Promise<Measure> {
  if (offered !== undefined && a.load === 'open') return driveOpen(url, pid, offered, secs)
  const request: AutocannonRequest = {
    method: 'POST',
    path: '/webhook/genesys',
    setupRequest: (req) => ({ ...req, ...signedWebhook() }),
  }
  const c0 = cpuSeconds(pid)
  const t0 = performance.now()
  const r = await autocannon({
    url,
    connections,
    duration: secs,
    timeout: 10,
    requests: [request],
    ...(offered === undefined ? {} : { overallRate: offered, ignoreCoordinatedOmission: true }),
  })
  const elapsed = (performance.now() - t0) / 1000
  return {
    rps: Math.round(r['2xx'] / elapsed),
    p50: r.latency.p50,
    p99: r.latency.p99,
    non2xx: r.non2xx,
    errors: r.errors,
    cpu: Math.round(((cpuSeconds(pid) - c0) / elapsed) * 1000) / 10,
  }
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return
  const exited = new Promise((r) => child.once('exit', r))
  child.kill('SIGTERM')
  const t = setTimeout(() => child.kill('SIGKILL'), 20_000)
  await exited
  clearTimeout(t)
}

const results = new Map<string, { ceiling: Measure[]; fixed: Measure[] }>()
for (let round = 1; round <= rounds; round++) {
  for (const v of variants) {
    const s = await start(v)
    const pid = s.child.pid ?? 0
    const version = spawnSync(v.node, ['--version'], { encoding: 'utf8' }).stdout.trim()
    await drive(s.url, pid, undefined, 2) // warm-up
    const ceiling = await drive(s.url, pid, undefined, seconds)
    const fixed = await drive(s.url, pid, rate, seconds)
    await stop(s.child)
    const warned = /not compatible|Falling back/.test(s.out())
    say(
      `round ${round} ${v.label} (${version}${warned ? ', uWS fallback' : ''}): ceiling ${JSON.stringify(ceiling)}; ` +
        `at ${rate}/s ${JSON.stringify(fixed)}`,
    )
    const entry = results.get(v.label) ?? { ceiling: [], fixed: [] }
    entry.ceiling.push(ceiling)
    entry.fixed.push(fixed)
    results.set(v.label, entry)
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((x, y) => x - y)
  return s[Math.floor((s.length - 1) / 2)] ?? 0
}
const row = (ms: Measure[], k: keyof Measure): number => median(ms.map((m) => m[k]))
/** The server's own cost: CPU time per accepted request, the figure least moved by a busy machine. */
const costMs = (ms: Measure[]): number =>
  Math.round(median(ms.map((m) => (m.cpu * 10) / Math.max(1, m.rps))) * 100) / 100
process.stdout.write(
  `| server | ceiling req/s | ceiling p50 / p99 ms | ceiling CPU % | CPU ms per request | at ${rate} req/s: achieved | p50 / p99 ms | CPU % | non-2xx + errors |\n` +
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n',
)
for (const [label, { ceiling, fixed }] of results) {
  const bad = [...ceiling, ...fixed].reduce((n, m) => n + m.non2xx + m.errors, 0)
  process.stdout.write(
    `| ${label} | ${row(ceiling, 'rps')} | ${row(ceiling, 'p50')} / ${row(ceiling, 'p99')} | ${row(ceiling, 'cpu')} | ` +
      `${costMs(ceiling)} | ${row(fixed, 'rps')} | ${row(fixed, 'p50')} / ${row(fixed, 'p99')} | ${row(fixed, 'cpu')} | ${bad} |\n`,
  )
}
process.stdout.write(
  `\n(median of ${rounds} rounds, ${seconds} s each, ${connections} connections; the fixed rate's load: ${a.load})\n`,
)
