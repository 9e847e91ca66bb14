import { cpuStageTable, type CpuProfileSummary } from './cpu-stages.js'
import type { StageLatency } from './prom-histograms.js'
import { costTable, type StepCosts } from './server-costs.js'
import type { KafkajsCeiling, ProducerPerformanceResult } from './kafka-ceiling.js'
import type { LatencySummary } from './stats.js'

/** What the load generator says of itself, by kind of load. */
export interface LoadClientFigures {
  /** autocannon load: its own figures (worst instance), a cross-check of ingestMs. */
  autocannonLatencyMs?: { p50: number; p97_5: number; p99: number; max: number }
  /** open load: how late the client sent against the scheduled arrivals (its own lag). */
  dispatchLagMs?: LatencySummary
  /** open load: arrivals not sent because every conversation still waited for an answer. */
  skipped?: number
}

export interface StepResult extends LoadClientFigures {
  label: string
  targetRate: number
  seconds: number
  connections: number
  requests: number
  /** Responses per second (any status). */
  achievedRate: number
  /** 200s per second. */
  acceptedRate: number
  /** Arrivals at the fake Meta per second, first send to last arrival. */
  deliveredRate: number
  statuses: Record<string, number>
  errors: number
  timeouts: number
  ingestMs: LatencySummary
  endToEndMs: LatencySummary
  sent: number
  delivered: number
  lost: number
  duplicated: number
  outOfOrder: number
  unacknowledged: number
  drainedAll: boolean
  drainSeconds: number
  bridgeCpuPercent: number
  bridgePeakRssMb: number
  /** The machine's 1-minute load average when the step started (other work on the machine shows here). */
  loadAvg1mAtStart: number
  holds: boolean
  why: string[]
  /** The bridge's own histograms over the step (all bridge processes), slowest mean first. */
  stages?: StageLatency[]
  /** The worst bridge process's event-loop delay over the step (monitorEventLoopDelay, 10 ms resolution). */
  eventLoopLagMs?: { meanMs: number; p99Ms: number; maxMs: number }
  /** Bridge and server costs per delivered message, from the step's start to the end of its drain. */
  costs?: StepCosts
}

export interface IngestCeiling {
  server: string
  connections: number
  seconds: number
  rate: number
  errors: number
  latencyMs: LatencySummary
  cpuPercent: number
}

export interface BenchResult {
  name: string
  runId: string
  startedAt: string
  finishedAt?: string
  command: string
  machine: { cpu: string; cores: number; ramGb: number; kernel: string }
  versions: Record<string, string>
  settings: {
    metaLatency: { medianMs: number; p99Ms: number }
    conversations: number
    partitions: number
    outboundProcs: number
    /** Ingest (and archive) in a process of their own, outbound in outboundProcs others. */
    split?: boolean
    bridgeEnv: Record<string, string>
    stepSeconds: number
    percentiles: string
    loadGenerator: string
  }
  steps: StepResult[]
  search: { heldRate: number; seconds: number; criterion: string } | undefined
  ceilings: {
    ingest: IngestCeiling[]
    kafkajs: KafkajsCeiling | undefined
    producerPerformance: ProducerPerformanceResult | undefined
  }
  unmatchedArrivals?: number
  /** Per-stage bridge CPU, when the run was profiled (--cpu-prof). */
  cpuProfile?: CpuProfileSummary
}

const n = (v: number | undefined): string => (v === undefined || !Number.isFinite(v) ? '–' : String(v))

/** The generated part of BENCHMARKS.md for one run. Pure. */
export function renderMarkdown(r: BenchResult, svgPath: string): string {
  const s = r.settings
  const env = Object.entries(s.bridgeEnv)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ')
  const lines: string[] = []
  lines.push(`### Run \`${r.name}\` (${r.startedAt})`)
  lines.push('')
  lines.push(`Command: \`${r.command}\``)
  lines.push('')
  lines.push(
    `Machine: ${r.machine.cpu}, ${r.machine.cores} cores, ${r.machine.ramGb} GB RAM, Linux ${r.machine.kernel}; ` +
      `every server on it. Versions: ${Object.entries(r.versions)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}.`,
  )
  lines.push('')
  lines.push(
    `Settings: fake Meta latency median ${s.metaLatency.medianMs} ms / p99 ${s.metaLatency.p99Ms} ms; ` +
      `${s.conversations} conversations; ${s.partitions} partitions; ${s.split === true ? 'ingest and archive in one process, ' : ''}${s.outboundProcs} outbound process(es); ` +
      `bridge env ${env === '' ? '(defaults)' : `\`${env}\``}; ${s.stepSeconds} s per step; ` +
      `percentiles ${s.percentiles}; load ${s.loadGenerator}.`,
  )
  lines.push('')
  lines.push(
    '| offered/s | achieved/s | delivered/s | ingest p50 / p95 / p99 / max ms | e2e p50 / p95 / p99 / max ms | errors | lost | dup | out of order | bridge CPU % | bridge CPU µs/msg | peak RSS MB | load avg | holds |',
  )
  lines.push('|---:|---:|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|')
  for (const st of r.steps) {
    const i = st.ingestMs
    const e = st.endToEndMs
    lines.push(
      `| ${st.targetRate} | ${st.achievedRate} | ${st.deliveredRate} | ${n(i.p50)} / ${n(i.p95)} / ${n(i.p99)} / ${n(i.max)} | ` +
        `${n(e.p50)} / ${n(e.p95)} / ${n(e.p99)} / ${n(e.max)} | ${st.errors} | ${st.lost} | ${st.duplicated} | ${st.outOfOrder} | ` +
        `${st.bridgeCpuPercent} | ${n(bridgeUsPerMessage(st))} | ${st.bridgePeakRssMb} | ${st.loadAvg1mAtStart} | ${st.holds ? 'yes' : `no: ${st.why.join('; ')}`} |`,
    )
  }
  lines.push('')
  if (r.search !== undefined) {
    lines.push(
      `Search: highest rate held for ${r.search.seconds} s: **${r.search.heldRate} req/s** (${r.search.criterion}).`,
    )
    lines.push('')
  }
  lines.push(`![latency (log scale) and throughput vs rate](${svgPath})`)
  lines.push('')
  lines.push(...stageTable(r.steps))
  lines.push(...costSection(r))
  lines.push(...cpuStageTable(r.cpuProfile))
  const c = r.ceilings
  if (c.ingest.length > 0 || c.kafkajs !== undefined || c.producerPerformance !== undefined) {
    lines.push('Ceilings measured in the same run (same broker, same record size):')
    lines.push('')
    lines.push('| what | rate | latency p50 / p99 / max ms | notes |')
    lines.push('|---|---:|---|---|')
    for (const g of c.ingest) {
      lines.push(
        `| ingest, ${g.server}, unthrottled, ${g.connections} connections | ${g.rate} req/s | ${n(g.latencyMs.p50)} / ${n(g.latencyMs.p99)} / ${n(g.latencyMs.max)} | ${g.errors} errors, server CPU ${g.cpuPercent}% |`,
      )
    }
    if (c.kafkajs !== undefined) {
      const k = c.kafkajs
      lines.push(
        `| kafkajs produce (project producer: batched sendBatch, acks=-1) | ${k.produceRate} rec/s | – | ${k.records} × ${k.recordBytes} B, ${k.partitions} partitions |`,
      )
      lines.push(
        `| kafkajs produce → consume (eachBatch) | ${k.endToEndRate} rec/s | ${n(k.latencyMs.p50)} / ${n(k.latencyMs.p99)} / ${n(k.latencyMs.max)} | send call to consume |`,
      )
    }
    const p = c.producerPerformance
    if (p !== undefined) {
      if (p.available) {
        lines.push(
          `| Kafka ProducerPerformance (acks=all, linger.ms=2) | ${n(p.recordsPerSec)} rec/s | ${n(p.p50Ms)} / ${n(p.p99Ms)} / ${n(p.maxLatencyMs)} | \`${p.line ?? ''}\` |`,
        )
      } else lines.push(`| Kafka ProducerPerformance | skipped | – | ${p.reason ?? ''} |`)
    }
    lines.push('')
  }
  const ratio = ceilingRatio(r)
  if (ratio !== undefined) {
    lines.push(
      `Highest rate the bridge held: **${ratio.heldRate} msg/s**, ${Math.round(ratio.ratio * 1000) / 10} % of the raw ` +
        `kafkajs produce → consume ceiling (${ratio.kafkaRate} rec/s) on the same broker.`,
    )
    lines.push('')
  }
  return lines.join('\n')
}

/** Bridge CPU per delivered message over the step (load and drain), whole µs; undefined if not measured. */
export function bridgeUsPerMessage(st: StepResult): number | undefined {
  const row = st.costs?.rows.find((r) => r.what.startsWith('bridge CPU'))
  return row === undefined ? undefined : Math.round(row.perMessage)
}

/** What a delivered message cost the bridge and each server, per step. */
function costSection(r: BenchResult): string[] {
  const table = costTable(r.steps.map((st) => ({ rate: st.targetRate, costs: st.costs })))
  if (table.length === 0) return []
  return [
    'Cost per delivered message, measured over each step (load and drain) in the same run: CPU from `/proc` ' +
      '(utime + stime of the process tree), PostgreSQL from `pg_stat_database`/`pg_stat_user_tables` of the ' +
      "bench's own database (pg_stat_statements is not preloaded on this server), Redis from `INFO commandstats`, " +
      "Kafka from the bench topics' high watermarks and log segments, S3 from the archive objects under the bench " +
      "tenant's prefix. † = the whole server, shared with whatever else ran on the machine meanwhile (see load avg).",
    '',
    ...table,
    '',
  ]
}

/** Where the time went, from the bridge's own histograms: the slowest series at each step. */
function stageTable(steps: StepResult[], top = 8): string[] {
  const withStages = steps.filter((st) => (st.stages ?? []).length > 0)
  if (withStages.length === 0) return []
  const lines = [
    "Where the time went (the bridge's own histograms over each step, interpolated p50/p99 as Prometheus's `histogram_quantile`):",
    '',
    '| offered/s | series | count | mean ms | p50 ms | p99 ms |',
    '|---:|---|---:|---:|---:|---:|',
  ]
  for (const st of withStages) {
    const lag = st.eventLoopLagMs
    if (lag !== undefined) {
      lines.push(
        `| ${st.targetRate} | event-loop delay (worst process, includes the 10 ms sampling interval) | – | ${lag.meanMs} | – | ${lag.p99Ms} |`,
      )
    }
    for (const row of (st.stages ?? []).slice(0, top)) {
      lines.push(
        `| ${st.targetRate} | \`${row.series}\` | ${row.count} | ${row.meanMs} | ${n(row.p50Ms)} | ${n(row.p99Ms)} |`,
      )
    }
  }
  lines.push('')
  return lines
}

/**
 * The bridge's highest rate held (a step that met every criterion; the search result when there is
 * one) against the raw kafkajs produce → consume rate on the same broker: how much of what Kafka
 * alone carries here the whole bridge keeps.
 */
export function ceilingRatio(r: BenchResult): { heldRate: number; kafkaRate: number; ratio: number } | undefined {
  const k = r.ceilings.kafkajs
  const held = Math.max(0, r.search?.heldRate ?? 0, ...r.steps.filter((st) => st.holds).map((st) => st.acceptedRate))
  if (k === undefined || k.endToEndRate <= 0 || held <= 0) return undefined
  return { heldRate: held, kafkaRate: k.endToEndRate, ratio: Math.round((held / k.endToEndRate) * 1000) / 1000 }
}

const BEGIN = '<!-- bench:generated:begin -->'
const END = '<!-- bench:generated:end -->'

/** The document with its generated section replaced; unchanged when the markers are missing. */
export function replaceGenerated(doc: string, section: string): string {
  const i = doc.indexOf(BEGIN)
  const j = doc.indexOf(END)
  return i >= 0 && j > i ? `${doc.slice(0, i + BEGIN.length)}\n${section}\n${doc.slice(j)}` : doc
}
