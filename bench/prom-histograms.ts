/**
 * The bridge's own latency histograms, read from /metrics before and after a rate step, so a step
 * can say which stage its time went to. Prometheus histograms are cumulative bucket counts; the
 * difference of two scrapes is the histogram of that window alone.
 */

/** Cumulative counts per upper bound (seconds), +Inf last, for one series. */
export interface Histogram {
  bounds: number[]
  counts: number[]
  sum: number
}

/** series key (metric name plus labels other than le) → histogram */
export type Histograms = Map<string, Histogram>

const bucketLine = /^([a-zA-Z_:][\w:]*)_bucket\{(.*)\} ([0-9.eE+-]+|NaN|\+Inf)$/
const sumLine = /^([a-zA-Z_:][\w:]*)_sum(?:\{(.*)\})? ([0-9.eE+-]+|NaN)$/

/** Labels without `le`, in the order they came, as `name{a="x",b="y"}`. */
function seriesKey(name: string, labels: string): { key: string; le: string | undefined } {
  let le: string | undefined
  const kept: string[] = []
  for (const m of labels.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
    if (m[1] === 'le') le = m[2]
    else kept.push(`${m[1]}="${m[2]}"`)
  }
  return { key: kept.length === 0 ? name : `${name}{${kept.join(',')}}`, le }
}

/** Histograms in a Prometheus text exposition, optionally only those whose name starts with a prefix. */
export function parseHistograms(text: string, prefix = ''): Histograms {
  const out: Histograms = new Map()
  const get = (key: string): Histogram => {
    let h = out.get(key)
    if (h === undefined) out.set(key, (h = { bounds: [], counts: [], sum: 0 }))
    return h
  }
  for (const line of text.split('\n')) {
    if (!line.startsWith(prefix)) continue
    const b = bucketLine.exec(line)
    if (b !== null) {
      const { key, le } = seriesKey(b[1] as string, b[2] as string)
      if (le === undefined) continue
      const h = get(key)
      h.bounds.push(le === '+Inf' ? Infinity : Number(le))
      h.counts.push(Number(b[3]))
      continue
    }
    const s = sumLine.exec(line)
    if (s !== null) get(seriesKey(s[1] as string, s[2] ?? '').key).sum = Number(s[3])
  }
  return out
}

/** after − before, series by series (a series absent before counts from zero). */
export function diffHistograms(before: Histograms, after: Histograms): Histograms {
  const out: Histograms = new Map()
  for (const [key, h] of after) {
    const b = before.get(key)
    out.set(key, {
      bounds: h.bounds,
      counts: h.counts.map((c, i) => c - (b?.counts[i] ?? 0)),
      sum: h.sum - (b?.sum ?? 0),
    })
  }
  return out
}

/** Several processes' histograms of the same series added up (same buckets in every process). */
export function mergeHistograms(all: Histograms[]): Histograms {
  const out: Histograms = new Map()
  for (const hs of all) {
    for (const [key, h] of hs) {
      const o = out.get(key)
      if (o === undefined) out.set(key, { bounds: [...h.bounds], counts: [...h.counts], sum: h.sum })
      else {
        o.counts = o.counts.map((c, i) => c + (h.counts[i] ?? 0))
        o.sum += h.sum
      }
    }
  }
  return out
}

/**
 * The q-quantile (0..1) in seconds as Prometheus's histogram_quantile computes it: find the bucket
 * holding rank q·count and interpolate linearly inside it (the first bucket starts at 0). A rank in
 * the +Inf bucket answers the highest finite bound. Undefined when the window saw nothing.
 */
export function histogramQuantile(q: number, h: Histogram): number | undefined {
  const total = h.counts[h.counts.length - 1] ?? 0
  if (total <= 0) return undefined
  const rank = q * total
  for (let i = 0; i < h.counts.length; i++) {
    const c = h.counts[i] as number
    if (c < rank) continue
    const upper = h.bounds[i] as number
    const lower = i === 0 ? 0 : (h.bounds[i - 1] as number)
    if (upper === Infinity) return lower
    const below = i === 0 ? 0 : (h.counts[i - 1] as number)
    const inBucket = c - below
    return inBucket === 0 ? upper : lower + (upper - lower) * ((rank - below) / inBucket)
  }
  return undefined
}

export interface StageLatency {
  series: string
  count: number
  meanMs: number
  p50Ms: number | undefined
  p99Ms: number | undefined
}

/** One row per series that saw samples in the window, slowest mean first. */
export function stageLatencies(window: Histograms): StageLatency[] {
  const ms = (s: number | undefined): number | undefined => (s === undefined ? undefined : Math.round(s * 1e4) / 10)
  const rows: StageLatency[] = []
  for (const [series, h] of window) {
    const count = h.counts[h.counts.length - 1] ?? 0
    if (count <= 0) continue
    rows.push({
      series,
      count,
      meanMs: Math.round((h.sum / count) * 1e4) / 10,
      p50Ms: ms(histogramQuantile(0.5, h)),
      p99Ms: ms(histogramQuantile(0.99, h)),
    })
  }
  return rows.sort((a, b) => b.meanMs - a.meanMs)
}

/** The value of an unlabelled gauge in a Prometheus text exposition, or undefined. */
export function readGauge(text: string, name: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `))
  const v = line === undefined ? NaN : Number(line.slice(name.length + 1))
  return Number.isFinite(v) ? v : undefined
}

/** Duration histograms only (a histogram of batch sizes has no place in a table of milliseconds). */
export const durations = (text: string): Histograms =>
  new Map([...parseHistograms(text, 'gwb_')].filter(([k]) => k.split('{')[0]?.endsWith('_seconds')))

/** The worst process's event-loop delay since the previous scrape (prom-client resets it at each). */
export function eventLoopLag(texts: string[]): { meanMs: number; p99Ms: number; maxMs: number } {
  const worst = (name: string): number =>
    Math.round(Math.max(0, ...texts.map((t) => readGauge(t, `gwb_nodejs_eventloop_lag_${name}_seconds`) ?? 0)) * 1e4) /
    10
  return { meanMs: worst('mean'), p99Ms: worst('p99'), maxMs: worst('max') }
}
