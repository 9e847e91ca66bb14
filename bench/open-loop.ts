import { sleep } from '../src/retry.js'
import { createRawHttpClient } from './raw-http-client.js'

/**
 * BENCH ONLY. An open-loop load at a fixed mean rate: requests arrive as a Poisson process (the
 * superposition of many independent conversations, which is what a contact centre's webhooks are)
 * whether or not earlier ones were answered, and each latency runs from the request's scheduled
 * arrival, so a client or server that falls behind is charged for it (no coordinated omission).
 *
 * Why not autocannon's `overallRate`: it gives each connection a per-second quota sent back to back
 * at the start of the second, so the offered load is a burst per connection per second (the
 * bench's staggered "waves" only cut it into ten bursts). The ingest latency it reported was the
 * time to work through a burst of rate/10 simultaneous requests (BENCHMARKS.md, 2026-11-30).
 */

export interface Arrival {
  body: string
  headers: Record<string, string>
  /** The answer's status (undefined: no answer) and the latency from the scheduled arrival. */
  done: (status: number | undefined, latencyMs: number) => void
}

export interface OpenLoopOptions {
  url: string
  path: string
  /** Mean arrivals per second. */
  rate: number
  seconds: number
  /** Connections the pool may open (requests beyond them queue in the client, and are charged). */
  connections: number
  /** The request for the next arrival; undefined when none can be made now (counted as skipped). */
  next: () => Arrival | undefined
  timeoutMs?: number
  /** The PRNG seed of the arrival times, so two runs offer the same pattern. */
  seed?: number
}

export interface OpenLoopOutcome {
  scheduled: number
  skipped: number
  errors: number
  timeouts: number
  seconds: number
  /** How late each request left against its scheduled arrival (the client's own lag). */
  dispatchLagMs: number[]
}

/** mulberry32: a small seeded PRNG, enough for arrival times. */
function prng(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (s + 0x6d2b79f5) >>> 0
    let t = s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export async function driveOpenLoop(o: OpenLoopOptions): Promise<OpenLoopOutcome> {
  const timeoutMs = o.timeoutMs ?? 10_000
  const url = new URL(o.url)
  const client = createRawHttpClient({
    host: url.hostname,
    port: Number(url.port),
    connections: o.connections,
    timeoutMs,
  })
  const prefix = `POST ${o.path} HTTP/1.1\r\nhost: ${url.host}\r\n`
  const random = prng(o.seed ?? 1)
  const gapMs = (): number => (-Math.log(1 - random()) * 1000) / o.rate
  const out: OpenLoopOutcome = { scheduled: 0, skipped: 0, errors: 0, timeouts: 0, seconds: 0, dispatchLagMs: [] }
  const pending = new Set<Promise<void>>()

  const fire = (dueMs: number): void => {
    out.scheduled++
    const arrival = o.next()
    if (arrival === undefined) {
      out.skipped++
      return
    }
    out.dispatchLagMs.push(performance.now() - dueMs)
    const body = Buffer.from(arrival.body)
    let head = prefix
    for (const [k, v] of Object.entries(arrival.headers)) head += `${k}: ${v}\r\n`
    head += `content-length: ${body.length}\r\n\r\n`
    const p = client
      .request(Buffer.concat([Buffer.from(head, 'latin1'), body]))
      .then((status) => arrival.done(status, performance.now() - dueMs))
      .catch((err: unknown) => {
        if ((err as { code?: unknown }).code === 'TIMEOUT') out.timeouts++
        else out.errors++
        arrival.done(undefined, performance.now() - dueMs)
      })
      .finally(() => pending.delete(p))
    pending.add(p)
  }

  const t0 = performance.now()
  const end = t0 + o.seconds * 1000
  let due = t0 + gapMs()
  while (due < end) {
    const wait = due - performance.now()
    // Timers have a 1 ms grain (a shorter wait is a 1 ms one): what falls due within it leaves
    // together, at most 1 ms late, and the loop never spins.
    if (wait > 0) await sleep(Math.max(1, wait))
    const now = performance.now()
    for (; due <= now && due < end; due += gapMs()) fire(due)
  }
  out.seconds = (performance.now() - t0) / 1000
  await Promise.all(pending)
  client.close()
  return out
}
