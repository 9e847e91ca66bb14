import autocannon, { type AutocannonRequest, type Client } from 'autocannon'
import { driveOpenLoop } from './open-loop.js'
import type { LoadClientFigures } from './report.js'
import { sleep } from '../src/retry.js'
import { nowMs, roundSummary, summarize, type SentMessage } from './stats.js'

/**
 * BENCH ONLY. The bench's webhook load: one conversation's messages are sent one after another
 * (the next only after the previous one's answer, as Genesys does), so the order the fake Meta sees
 * can be checked against the order sent.
 */

export interface Conv {
  id: string
  waId: string
  seq: number
  /** A message of it got no 200 (open loop): none of its later messages is sent in this run. */
  retired?: boolean
}

export interface Load {
  /** undefined: as fast as the connections go (a ceiling, closed loop, always autocannon). */
  rate: number | undefined
  seconds: number
  connections: number
  url: string
  kind: 'open' | 'autocannon'
  /** autocannon only: staggered instances per second. */
  waves: number
}

export interface LoadOutcome extends LoadClientFigures {
  sent: SentMessage[]
  ingestMs: number[]
  statuses: Record<string, number>
  errors: number
  timeouts: number
  seconds: number
}

/** A signed webhook for the conversation's next message. */
export type BuildWebhook = (conv: Conv, seq: number, atMs: number) => { body: string; headers: Record<string, string> }

const non200 = (statuses: Record<string, number>): number =>
  Object.entries(statuses).reduce((n, [s, c]) => (s === '200' ? n : n + c), 0)

export function driveLoad(load: Load, convs: readonly Conv[], build: BuildWebhook): Promise<LoadOutcome> {
  return load.rate !== undefined && load.kind === 'open'
    ? driveOpen({ ...load, rate: load.rate }, convs, build)
    : driveAutocannon(load, convs, build)
}

/**
 * Poisson arrivals; each goes to the next conversation in turn that has no message in flight. Only a
 * 200 frees the conversation: a request with no answer (or refused) may still be produced later, and
 * Genesys would retry that very message before sending the next, so the bench retires the
 * conversation for the rest of the run (every later step too) rather than send a later message that could overtake it.
 */
async function driveOpen(load: Load & { rate: number }, convs: readonly Conv[], build: BuildWebhook) {
  const sent: SentMessage[] = []
  const ingestMs: number[] = []
  const statuses: Record<string, number> = {}
  const busy = new Set<Conv>()
  let cursor = 0
  const freeConv = (): Conv | undefined => {
    for (let tries = 0; tries < convs.length; tries++) {
      const c = convs[cursor++ % convs.length] as Conv
      if (c.retired !== true && !busy.has(c)) return c
    }
    return undefined
  }
  const out = await driveOpenLoop({
    url: load.url,
    path: '/webhook/genesys',
    rate: load.rate,
    seconds: load.seconds,
    connections: load.connections,
    next: () => {
      const conv = freeConv()
      if (conv === undefined) return undefined
      busy.add(conv)
      const seq = ++conv.seq
      const at = nowMs()
      return {
        ...build(conv, seq, at),
        done: (status, latencyMs) => {
          busy.delete(conv)
          if (status !== 200) conv.retired = true
          ingestMs.push(latencyMs)
          if (status !== undefined) statuses[status] = (statuses[status] ?? 0) + 1
          if (status === 200) sent.push({ conversation: conv.id, seq, sentAtMs: at })
        },
      }
    },
  })
  return {
    sent,
    ingestMs,
    statuses,
    errors: non200(statuses) + out.errors,
    timeouts: out.timeouts,
    seconds: out.seconds,
    dispatchLagMs: roundSummary(summarize(out.dispatchLagMs)),
    skipped: out.skipped,
  }
}

/** autocannon with per-request hooks: each connection owns a fixed slice of the conversations. */
async function driveAutocannon(load: Load, convs: readonly Conv[], build: BuildWebhook): Promise<LoadOutcome> {
  const sent: SentMessage[] = []
  const ingestMs: number[] = []
  const statuses: Record<string, number> = {}
  let clientNo = 0
  const setupClient = (client: Client): void => {
    const me = clientNo++
    const mine = convs.filter((_, i) => i % load.connections === me % load.connections)
    let k = 0
    let inflight: { conv: Conv; seq: number; at: number; perf: number } | undefined
    const request: AutocannonRequest = {
      method: 'POST',
      path: '/webhook/genesys',
      setupRequest: (req) => {
        const conv = mine[k++ % mine.length] as Conv
        const seq = ++conv.seq
        const at = nowMs()
        inflight = { conv, seq, at, perf: performance.now() }
        return { ...req, ...build(conv, seq, at) }
      },
      onResponse: (status) => {
        statuses[status] = (statuses[status] ?? 0) + 1
        if (inflight === undefined) return
        ingestMs.push(performance.now() - inflight.perf)
        if (status === 200) sent.push({ conversation: inflight.conv.id, seq: inflight.seq, sentAtMs: inflight.at })
        inflight = undefined
      },
    }
    client.setRequests([request])
  }
  // autocannon paces each connection by a per-second quota sent back to back, so one instance
  // offers its whole second as a burst at the start of it. Staggered instances ("waves") cut it
  // into smaller bursts; the open loop (driveOpen) has none.
  const waves = load.rate === undefined ? 1 : Math.max(1, Math.min(load.waves, load.connections, load.rate))
  const share = (total: number, i: number): number => Math.floor(total / waves) + (i < total % waves ? 1 : 0)
  const t0 = performance.now()
  const results = await Promise.all(
    Array.from({ length: waves }, async (_, i) => {
      await sleep((i * 1000) / waves)
      return autocannon({
        url: load.url,
        connections: share(load.connections, i),
        duration: load.seconds,
        ...(load.rate !== undefined ? { overallRate: share(load.rate, i) } : {}),
        ...(load.rate !== undefined ? { ignoreCoordinatedOmission: true } : {}),
        timeout: 10,
        pipelining: 1,
        setupClient,
      })
    }),
  )
  // Every instance ran the full duration; the last one started (waves − 1)/waves s late.
  const seconds = (performance.now() - t0) / 1000 - (waves - 1) / waves
  const worst = (f: (r: (typeof results)[number]) => number): number => Math.max(...results.map(f))
  return {
    sent,
    ingestMs,
    statuses,
    errors: non200(statuses) + results.reduce((n, r) => n + r.errors, 0),
    timeouts: results.reduce((n, r) => n + r.timeouts, 0),
    seconds,
    autocannonLatencyMs: {
      p50: worst((r) => r.latency.p50),
      p97_5: worst((r) => r.latency.p97_5),
      p99: worst((r) => r.latency.p99),
      max: worst((r) => r.latency.max),
    },
  }
}
