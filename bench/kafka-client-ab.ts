import { randomUUID } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { cpus, loadavg } from 'node:os'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import type { Admin } from 'kafkajs'
import pino from 'pino'
import { createBatcher } from '../src/batcher.js'
import { buildOutbound } from '../src/fakes/genesys-webhooks.js'
import { createKafka } from '../src/sinks/kafka/client.js'
import { alternatedRounds, median } from './ab-rounds.js'
import { clientNames, openClient, type BenchRecord, type ClientName } from './kafka-clients.js'
import { roundSummary, summarize, type LatencySummary } from './stats.js'
import { childResult } from './child-result.js'

const HELP = `KAFKA_BROKERS=127.0.0.1:9092 node dist/bench/kafka-client-ab.js [options]

kafkajs (the bridge's client) against @platformatic/kafka on the same broker. Every measurement
runs in a child process that holds only that client (an idempotent producer, acks=all, and a
consumer group committing its own offsets), on a fresh topic; the clients alternate within each
round (A B, then B A), so the machine's other load falls on both.

  (a) ceiling: --records records produced as fast as the client takes them (256 concurrent sends
      gathered into batches, one produce request in flight, like the bridge's producer), then
      consumed by the group: produce rec/s, produce→consume rec/s, CPU per record.
  (b) fixed rates: --rates records/s produced in --tick-ms batches for --seconds (after a warm-up of
      2 s and until the group has caught up) and consumed by the group: CPU per record (process.cpuUsage of the child), latency.

  --rounds <n>       rounds (default 3); tables give medians
  --seconds <s>      measured seconds per fixed rate (default 10)
  --tick-ms <ms>     the fixed rates' records are handed over every this many ms (default 10; at 500
                     records/s, 2 hands them over one by one, as webhooks arriving one by one are)
  --rates <r,r>      fixed rates in records/s (default 0,1000,4000; 0 = the clients' idle cost)
  --records <n>      records of the ceiling (default 100000)
  --bytes <b>        value size: a Genesys webhook's JSON padded to this (default 696, the bench's)
  --partitions <n>   partitions of each fresh topic (default 12)
  --json <file>      also write every round's raw result there
`

const { values: a } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '10' },
    'tick-ms': { type: 'string', default: '10' },
    rates: { type: 'string', default: '0,1000,4000' },
    records: { type: 'string', default: '100000' },
    bytes: { type: 'string', default: '696' },
    partitions: { type: 'string', default: '12' },
    json: { type: 'string' },
    help: { type: 'boolean', default: false },
    child: { type: 'string' },
    mode: { type: 'string' },
    topic: { type: 'string' },
  },
})
const brokers = (process.env['KAFKA_BROKERS'] ?? '127.0.0.1:9092').split(',')
const CONVERSATIONS = 2000
const WARMUP_MS = 2000
const tickMs = Number(a['tick-ms'])
if (!(tickMs >= 1)) throw new Error(`--tick-ms must be at least 1, got ${a['tick-ms']}`)
const say = (s: string): void => void process.stderr.write(`[client-ab] ${s}\n`)

/** What a child reports for one measurement. */
interface Result {
  client: ClientName
  /** 'ceiling' or the fixed rate in records/s. */
  mode: string
  produced: number
  consumed: number
  /** Seconds measured: first send to last record consumed (ceiling), the fixed window (rate). */
  seconds: number
  produceRate: number
  endToEndRate: number
  cpuMs: number
  cpuUsPerRecord: number
  latencyMs: LatencySummary
  /** Records whose produce failed, plus records produced and never consumed. */
  errors: number
  loadAvg: number
  round: number
}

/** One ~`bytes` JSON value per conversation, like the webhooks the bridge writes to Kafka. */
function values(bytes: number): { key: Buffer; value: Buffer }[] {
  const integrationId = randomUUID()
  return Array.from({ length: CONVERSATIONS }, () => {
    const conversationId = randomUUID()
    const body = buildOutbound({ integrationId, conversationId, toId: '447000000000', text: '' })
    const pad = Math.max(0, bytes - JSON.stringify(body).length)
    body.text = 'x'.repeat(pad)
    return { key: Buffer.from(conversationId), value: Buffer.from(JSON.stringify(body)) }
  })
}

async function until(cond: () => boolean, timeoutMs: number): Promise<boolean> {
  const end = performance.now() + timeoutMs
  while (!cond()) {
    if (performance.now() > end) return false
    await new Promise((r) => setTimeout(r, 20))
  }
  return true
}

async function child(client: ClientName, mode: string, topic: string): Promise<Result> {
  const recs = values(Number(a.bytes))
  const rate = mode === 'ceiling' ? 0 : Number(mode)
  const seconds = Number(a.seconds)
  const capacity = mode === 'ceiling' ? Number(a.records) : Math.ceil(rate * (seconds + WARMUP_MS / 1000 + 5))
  const sentAt = new Float64Array(capacity)
  const record = (seq: number): BenchRecord => {
    const r = recs[seq % CONVERSATIONS] as { key: Buffer; value: Buffer }
    return { key: r.key, value: r.value, seq }
  }
  let consumed = 0
  let lastConsumedAt = 0
  const lat: number[] = []
  let latFrom = 0
  let latTo = capacity
  const c = await openClient(client, { brokers, topic, groupId: `${topic}-g`, commitIntervalMs: 1000 })
  await c.consume((seq) => {
    const now = performance.now()
    consumed++
    lastConsumedAt = now
    if (seq >= latFrom && seq < latTo) lat.push(now - (sentAt[seq] as number))
  })
  let errors = 0
  const batcher = createBatcher<BenchRecord, void>({
    maxSize: 2000,
    maxWaitMs: 2,
    maxInFlight: 1,
    flush: async (batch) => {
      await c.produce(batch)
      return batch.map(() => undefined)
    },
  })
  const send = (seq: number): Promise<void> => {
    sentAt[seq] = performance.now()
    return batcher.add(record(seq)).catch(() => void errors++)
  }

  const result = (r: Omit<Result, 'client' | 'mode' | 'latencyMs' | 'errors' | 'loadAvg' | 'round'>): Result => ({
    client,
    mode,
    ...r,
    latencyMs: roundSummary(summarize(lat)),
    errors,
    loadAvg: 0,
    round: 0,
  })
  let out: Result
  if (mode === 'ceiling') {
    const n = capacity
    const cpu0 = process.cpuUsage()
    const t0 = performance.now()
    let next = 0
    const worker = async (): Promise<void> => {
      while (next < n) await send(next++)
    }
    await Promise.all(Array.from({ length: 256 }, worker))
    const t1 = performance.now()
    await until(() => consumed >= n, 60_000)
    const used = process.cpuUsage(cpu0)
    const cpuMs = (used.user + used.system) / 1000
    out = result({
      produced: n,
      consumed,
      seconds: (lastConsumedAt - t0) / 1000,
      produceRate: n / ((t1 - t0) / 1000),
      endToEndRate: Math.min(consumed, n) / ((lastConsumedAt - t0) / 1000),
      cpuMs,
      cpuUsPerRecord: (cpuMs * 1000) / n,
    })
    out.errors += Math.max(0, n - out.errors - consumed)
  } else {
    // Records due by now at the rate, handed over every tickMs: the batcher gathers them while the
    // previous produce is in flight, as the bridge's producer gathers concurrent webhooks.
    let sent = 0
    const start = performance.now()
    const timer = setInterval(() => {
      const due = Math.min(capacity, Math.floor(((performance.now() - start) / 1000) * rate))
      while (sent < due) void send(sent++)
    }, tickMs)
    // Warm-up: at least WARMUP_MS and until the group reads what is produced (its first fetches
    // start some time after the join), so the window measures the steady state.
    await new Promise((r) => setTimeout(r, WARMUP_MS))
    await until(() => consumed >= sent - rate / 10, 20_000)
    const [p0, c0, cpu0, t0] = [sent, consumed, process.cpuUsage(), performance.now()]
    latFrom = p0
    await new Promise((r) => setTimeout(r, seconds * 1000))
    const used = process.cpuUsage(cpu0)
    const [p1, c1, t1] = [sent, consumed, performance.now()]
    latTo = p1
    clearInterval(timer)
    await batcher.drain()
    await until(() => consumed >= sent, 30_000)
    const cpuMs = (used.user + used.system) / 1000
    const secs = (t1 - t0) / 1000
    out = result({
      produced: p1 - p0,
      consumed: c1 - c0,
      seconds: secs,
      produceRate: (p1 - p0) / secs,
      endToEndRate: (c1 - c0) / secs,
      cpuMs,
      // Each record is produced and consumed by this process: the client's cost of one record's round trip.
      cpuUsPerRecord: p1 > p0 ? (cpuMs * 1000) / (p1 - p0) : NaN,
    })
    out.errors += Math.max(0, sent - out.errors - consumed)
  }
  await c.close()
  return out
}

async function runChild(client: ClientName, mode: string, topic: string): Promise<Result> {
  const args = [...process.argv.slice(2), '--child', client, '--mode', mode, '--topic', topic]
  const r = await childResult<Result>(fileURLToPath(import.meta.url), args, `child ${client} ${mode}`)
  // JSON has no NaN: a rate of 0 has no CPU per record.
  return { ...r, cpuUsPerRecord: r.cpuUsPerRecord ?? NaN }
}

const fmt = (x: number, d = 0): string => (Number.isFinite(x) ? x.toFixed(d) : '–')

function report(results: Result[], modes: string[]): string {
  const rounds = Number(a.rounds)
  const of = (client: ClientName, mode: string): Result[] =>
    results.filter((r) => r.client === client && r.mode === mode)
  const m = (rs: Result[], f: (r: Result) => number, d = 0): string => fmt(median(rs.map(f)), d)
  const each = (rs: Result[], f: (r: Result) => number, d = 0): string => rs.map((r) => fmt(f(r), d)).join(', ')
  const lines: string[] = []
  lines.push(
    `Node ${process.version}, ${cpus().length} cores, ${rounds} rounds, brokers ${brokers.join(',')}, ` +
      `${a.partitions} partitions, ${a.bytes} B values, ${CONVERSATIONS} keys; medians of the rounds (each round's value in brackets).`,
    '',
    `(a) ceiling, ${a.records} records:`,
    '',
    '| client | produce rec/s | produce → consume rec/s | CPU µs per record | e2e p50 / p99 ms | errors | load avg (1 min) |',
    '| --- | ---: | ---: | ---: | --- | ---: | --- |',
  )
  for (const client of clientNames) {
    const rs = of(client, 'ceiling')
    if (rs.length === 0) continue
    lines.push(
      `| ${client} | ${m(rs, (r) => r.produceRate)} (${each(rs, (r) => r.produceRate)}) | ` +
        `${m(rs, (r) => r.endToEndRate)} (${each(rs, (r) => r.endToEndRate)}) | ` +
        `${m(rs, (r) => r.cpuUsPerRecord, 1)} (${each(rs, (r) => r.cpuUsPerRecord, 1)}) | ` +
        `${m(rs, (r) => r.latencyMs.p50, 1)} / ${m(rs, (r) => r.latencyMs.p99, 1)} | ` +
        `${rs.reduce((n, r) => n + r.errors, 0)} | ${each(rs, (r) => r.loadAvg, 1)} |`,
    )
  }
  lines.push(
    '',
    `(b) fixed rates, ${a.seconds} s measured after a warm-up (≥ ${WARMUP_MS / 1000} s, until the group has caught up):`,
    '',
    '| client | offered rec/s | produced rec/s | consumed rec/s | CPU µs per record (produce + consume) | % of a core | e2e p50 / p99 ms | errors | load avg (1 min) |',
    '| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | --- |',
  )
  for (const mode of modes.filter((x) => x !== 'ceiling')) {
    for (const client of clientNames) {
      const rs = of(client, mode)
      if (rs.length === 0) continue
      lines.push(
        `| ${client} | ${mode} | ${m(rs, (r) => r.produceRate)} | ${m(rs, (r) => r.endToEndRate)} | ` +
          `${m(rs, (r) => r.cpuUsPerRecord, 1)} (${each(rs, (r) => r.cpuUsPerRecord, 1)}) | ` +
          `${m(rs, (r) => (r.cpuMs / (r.seconds * 1000)) * 100, 1)} % | ` +
          `${m(rs, (r) => r.latencyMs.p50, 1)} / ${m(rs, (r) => r.latencyMs.p99, 1)} | ` +
          `${rs.reduce((n, r) => n + r.errors, 0)} | ${each(rs, (r) => r.loadAvg, 1)} |`,
      )
    }
  }
  return lines.join('\n')
}

/**
 * Creates the round's topic and waits until every partition has a leader. kafkajs's own wait
 * (waitForLeaders) gives up with UNKNOWN_TOPIC_OR_PARTITION when a busy broker is slow to elect.
 */
async function createTopic(admin: Admin, topic: string, partitions: number): Promise<void> {
  await admin.createTopics({ topics: [{ topic, numPartitions: partitions }] })
  const led = async (): Promise<boolean> => {
    try {
      const md = await admin.fetchTopicMetadata({ topics: [topic] })
      const ps = md.topics[0]?.partitions ?? []
      return ps.length === partitions && ps.every((p) => p.leader >= 0)
    } catch {
      return false
    }
  }
  const end = performance.now() + 60_000
  while (!(await led())) {
    if (performance.now() > end) throw new Error(`topic ${topic}: partitions without a leader after 60 s`)
    await new Promise((r) => setTimeout(r, 200))
  }
}

async function main(): Promise<void> {
  if (a.help) {
    process.stdout.write(HELP)
    return
  }
  const modes = ['ceiling', ...(a.rates ?? '').split(',').filter((x) => x !== '')]
  const partitions = Number(a.partitions)
  const runId = Date.now().toString(36)
  const admin = createKafka({
    brokers,
    clientId: 'gwb-bench-client-ab-admin',
    security: { protocol: 'PLAINTEXT', tls: undefined, sasl: undefined },
    log: pino({ level: 'silent' }),
  }).admin()
  await admin.connect()
  const results: Result[] = []
  const order = alternatedRounds(clientNames, Number(a.rounds))
  try {
    for (let round = 1; round <= Number(a.rounds); round++) {
      for (const mode of modes) {
        for (const { variant: client } of order.filter((o) => o.round === round)) {
          const topic = `gwb-bench-client-ab-${runId}-${round}-${mode}-${client}`
          await createTopic(admin, topic, partitions)
          const load = loadavg()[0] ?? NaN
          const r = await runChild(client, mode, topic)
          await admin.deleteTopics({ topics: [topic] })
          // The child has left its group; an empty group's offsets would stay on the broker for a week.
          await admin.deleteGroups([`${topic}-g`]).catch(() => undefined)
          r.loadAvg = load
          r.round = round
          results.push(r)
          if (a.json !== undefined) writeFileSync(a.json, JSON.stringify(results, null, 2))
          say(
            `round ${round} ${mode} ${client}: produce ${fmt(r.produceRate)} rec/s, consume ${fmt(r.endToEndRate)} rec/s, ` +
              `${fmt(r.cpuUsPerRecord, 1)} µs CPU/record, e2e p50 ${r.latencyMs.p50} p99 ${r.latencyMs.p99} ms, ` +
              `errors ${r.errors}, load ${fmt(load, 2)}`,
          )
        }
      }
    }
  } finally {
    await admin.disconnect()
  }
  process.stdout.write(`${report(results, modes)}\n`)
}

const childClient = a.child
if (childClient === 'kafkajs' || childClient === 'platformatic') {
  const r = await child(childClient, a.mode ?? 'ceiling', a.topic ?? '')
  process.stdout.write(`${JSON.stringify(r)}\n`)
  // kafkajs's consumer keeps timers alive after disconnect; the result is out.
  process.exit(0)
} else {
  await main()
}
