/**
 * Pure arithmetic for the bench: latency percentiles and delivery accounting. No I/O, no clocks.
 *
 * Percentiles use the NEAREST-RANK definition: the p-th percentile of n sorted samples is the
 * sample at 1-based rank ceil(p/100 · n) (rank 1 for p = 0). It always returns a value that was
 * actually observed, never an interpolation between two.
 */

export interface LatencySummary {
  count: number
  min: number
  mean: number
  p50: number
  p95: number
  p99: number
  max: number
}

/** Nearest-rank percentile of an ascending-sorted array; NaN for an empty one. */
export function percentileSorted(sorted: readonly number[], p: number): number {
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile must be within 0..100, got ${p}`)
  const n = sorted.length
  if (n === 0) return NaN
  // The small epsilon keeps binary floating point (99.9/100·1000 = 999.0000000000001) from
  // pushing an exact rank one up.
  const rank = Math.max(1, Math.ceil((p * n) / 100 - 1e-9))
  return sorted[Math.min(rank, n) - 1] as number
}

/** Nearest-rank percentile of unsorted samples (copies, does not mutate). */
export function percentile(samples: readonly number[], p: number): number {
  return percentileSorted(
    [...samples].sort((a, b) => a - b),
    p,
  )
}

export function summarize(samples: readonly number[]): LatencySummary {
  const sorted = Float64Array.from(samples).sort()
  const arr = Array.from(sorted)
  const n = arr.length
  let sum = 0
  for (const v of arr) sum += v
  return {
    count: n,
    min: n === 0 ? NaN : (arr[0] as number),
    mean: n === 0 ? NaN : sum / n,
    p50: percentileSorted(arr, 50),
    p95: percentileSorted(arr, 95),
    p99: percentileSorted(arr, 99),
    max: n === 0 ? NaN : (arr[n - 1] as number),
  }
}

/** Rounds every number of a summary to `digits` decimals (for publishing). */
export function roundSummary(s: LatencySummary, digits = 1): LatencySummary {
  const f = 10 ** digits
  const r = (v: number): number => (Number.isFinite(v) ? Math.round(v * f) / f : v)
  return {
    count: s.count,
    min: r(s.min),
    mean: r(s.mean),
    p50: r(s.p50),
    p95: r(s.p95),
    p99: r(s.p99),
    max: r(s.max),
  }
}

// --------------------------------------------------------------------------- delivery accounting

/** One message the load generator sent and the bridge acknowledged with 200. */
export interface SentMessage {
  conversation: string
  seq: number
  sentAtMs: number
}

/** One send the fake Meta recorded, in its arrival order. */
export interface DeliveredMessage {
  conversation: string
  seq: number
  arrivedAtMs: number
}

export interface DeliveryReport {
  /** Acknowledged messages. */
  sent: number
  /** Distinct acknowledged messages seen at the fake. */
  delivered: number
  /** Acknowledged, never seen at the fake. */
  lost: number
  /** Extra arrivals of a (conversation, seq) already seen. */
  duplicated: number
  /** Arrivals whose seq is below a seq already seen for the same conversation. */
  outOfOrder: number
  /** Seen at the fake but never acknowledged (e.g. the request timed out after Kafka had it). */
  unacknowledged: number
  /** arrivedAt − sentAt of the first arrival of each acknowledged message. */
  endToEndMs: number[]
}

const keyOf = (conversation: string, seq: number): string => `${conversation}\u0000${seq}`

/**
 * Counts loss, duplicates and reordering. `delivered` must be in the fake's arrival order;
 * `lastSeqBefore` carries, per conversation, the highest seq delivered before this window
 * (so order is checked across steps too) and is updated in place.
 */
export function checkDelivery(
  sent: readonly SentMessage[],
  delivered: readonly DeliveredMessage[],
  lastSeqBefore: Map<string, number> = new Map(),
): DeliveryReport {
  const sentBy = new Map<string, SentMessage>()
  for (const s of sent) sentBy.set(keyOf(s.conversation, s.seq), s)
  const seen = new Set<string>()
  let duplicated = 0
  let outOfOrder = 0
  let unacknowledged = 0
  const endToEndMs: number[] = []
  for (const d of delivered) {
    const k = keyOf(d.conversation, d.seq)
    if (seen.has(k)) {
      duplicated++
      continue
    }
    seen.add(k)
    const last = lastSeqBefore.get(d.conversation)
    if (last !== undefined && d.seq < last) outOfOrder++
    else lastSeqBefore.set(d.conversation, d.seq)
    const s = sentBy.get(k)
    if (s === undefined) unacknowledged++
    else endToEndMs.push(d.arrivedAtMs - s.sentAtMs)
  }
  const delivered_ = endToEndMs.length
  return {
    sent: sent.length,
    delivered: delivered_,
    lost: sent.length - delivered_,
    duplicated,
    outOfOrder,
    unacknowledged,
    endToEndMs,
  }
}

// ------------------------------------------------------------------------------- message text

const TEXT = /^bench (\S+) (\d+) (\d+)$/

/** The body text the bench sends: conversation, per-conversation seq, send time (epoch ms). */
/** Epoch milliseconds with sub-millisecond precision: the clock of the send time in the text and of the fake's arrivals. */
export const nowMs = (): number => performance.timeOrigin + performance.now()

export function benchText(conversation: string, seq: number, sentAtMs: number): string {
  return `bench ${conversation} ${seq} ${Math.round(sentAtMs)}`
}

export function parseBenchText(text: string): { conversation: string; seq: number; sentAtMs: number } | undefined {
  const m = TEXT.exec(text)
  if (m === null) return undefined
  return { conversation: m[1] as string, seq: Number(m[2]), sentAtMs: Number(m[3]) }
}

// ------------------------------------------------------------------------------ step verdicts

export interface StepVerdictInput {
  targetRate: number
  achievedRate: number
  errors: number
  lost: number
  duplicated: number
  outOfOrder: number
  e2eP99Ms: number
}

/** The `--search` criterion: rate held (≥ 95 %), no errors, no loss, p99 end to end under the limit. */
export function stepHolds(s: StepVerdictInput, e2eLimitMs = 1500): { ok: boolean; why: string[] } {
  const why: string[] = []
  if (s.achievedRate < 0.95 * s.targetRate) why.push(`achieved ${s.achievedRate.toFixed(0)} < 95% of target`)
  if (s.errors > 0) why.push(`${s.errors} errors`)
  if (s.lost > 0) why.push(`${s.lost} lost`)
  if (s.duplicated > 0) why.push(`${s.duplicated} duplicated`)
  if (s.outOfOrder > 0) why.push(`${s.outOfOrder} out of order`)
  if (!(s.e2eP99Ms < e2eLimitMs)) why.push(`e2e p99 ${s.e2eP99Ms.toFixed(0)} ms ≥ ${e2eLimitMs} ms`)
  return { ok: why.length === 0, why }
}
