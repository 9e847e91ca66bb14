/** Dependency-free line charts (latency and throughput against offered rate). Pure: return SVG text. */

export interface Series {
  name: string
  color: string
  points: readonly (readonly [number, number])[]
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

/** A y axis: where a value lands (0 = bottom, 1 = top) and the ticks to label. */
interface Axis {
  at: (v: number) => number
  ticks: number[]
}

function linearAxis(max: number): Axis {
  const top = niceMax(max)
  return { at: (v) => v / top, ticks: [0, 1, 2, 3, 4, 5].map((i) => (top * i) / 5) }
}

/**
 * Decades from the one below the smallest value to the one above the largest: latencies from a few
 * ms to several seconds all stay readable, where a linear axis flattens everything under the tail.
 * Ticks at 1, 2 and 5 of each decade (only 1 when there are more than four decades).
 */
export function logAxis(min: number, max: number): Axis {
  const lo = Math.floor(Math.log10(min > 0 ? min : 1))
  const hi = Math.max(lo + 1, Math.ceil(Math.log10(max > 0 ? max : 10)))
  const ticks: number[] = []
  for (let d = lo; d <= hi; d++) {
    for (const m of hi - lo > 4 ? [1] : [1, 2, 5]) if (d < hi || m === 1) ticks.push(m * 10 ** d)
  }
  return { at: (v) => (Math.log10(v) - lo) / (hi - lo), ticks }
}

const tickLabel = (v: number): string => (v >= 1 ? String(Math.round(v)) : String(Number(v.toPrecision(2))))

function niceMax(v: number): number {
  if (!(v > 0)) return 1
  const p = 10 ** Math.floor(Math.log10(v))
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p
  return 10 * p
}

export function lineChart(opts: {
  title: string
  xLabel: string
  yLabel: string
  series: readonly Series[]
  width?: number
  height?: number
  /** Horizontal reference lines, e.g. the 1.5 s end-to-end floor. */
  refs?: readonly { y: number; label: string }[]
  /** A logarithmic y axis; values ≤ 0 are left out (they have no place on it). */
  yLog?: boolean
}): string {
  const W = opts.width ?? 720
  const H = opts.height ?? 400
  const m = { l: 64, r: 170, t: 36, b: 48 }
  const pw = W - m.l - m.r
  const ph = H - m.t - m.b
  const drawable = ([x, y]: readonly [number, number]): boolean =>
    Number.isFinite(x) && Number.isFinite(y) && (opts.yLog !== true || y > 0)
  const all = opts.series.flatMap((s) => s.points).filter(drawable)
  const xMax = niceMax(Math.max(1, ...all.map(([x]) => x)))
  const ys = [...all.map(([, y]) => y), ...(opts.refs ?? []).map((r) => r.y)]
  if (ys.length === 0) ys.push(1)
  const axis = opts.yLog === true ? logAxis(Math.min(...ys), Math.max(...ys)) : linearAxis(Math.max(1, ...ys))
  const sx = (x: number): number => m.l + (x / xMax) * pw
  const sy = (y: number): number => m.t + ph - axis.at(y) * ph
  const f = (n: number): string => n.toFixed(1)
  const out: string[] = []
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
  )
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`)
  out.push(`<text x="${W / 2}" y="20" text-anchor="middle" font-size="14">${esc(opts.title)}</text>`)
  for (const y of axis.ticks) {
    out.push(`<line x1="${m.l}" y1="${f(sy(y))}" x2="${m.l + pw}" y2="${f(sy(y))}" stroke="#e5e5e5"/>`)
    out.push(`<text x="${m.l - 6}" y="${f(sy(y) + 4)}" text-anchor="end">${tickLabel(y)}</text>`)
  }
  for (let i = 0; i <= 5; i++) {
    const x = (xMax * i) / 5
    out.push(`<line x1="${f(sx(x))}" y1="${m.t}" x2="${f(sx(x))}" y2="${m.t + ph}" stroke="#f0f0f0"/>`)
    out.push(`<text x="${f(sx(x))}" y="${m.t + ph + 16}" text-anchor="middle">${Math.round(x)}</text>`)
  }
  out.push(`<rect x="${m.l}" y="${m.t}" width="${pw}" height="${ph}" fill="none" stroke="#999"/>`)
  out.push(`<text x="${m.l + pw / 2}" y="${H - 10}" text-anchor="middle">${esc(opts.xLabel)}</text>`)
  out.push(
    `<text x="16" y="${m.t + ph / 2}" text-anchor="middle" transform="rotate(-90 16 ${m.t + ph / 2})">${esc(opts.yLabel)}</text>`,
  )
  for (const r of opts.refs ?? []) {
    out.push(
      `<line x1="${m.l}" y1="${f(sy(r.y))}" x2="${m.l + pw}" y2="${f(sy(r.y))}" stroke="#c00" stroke-dasharray="6 4"/>`,
    )
    out.push(`<text x="${m.l + pw - 4}" y="${f(sy(r.y) - 4)}" text-anchor="end" fill="#c00">${esc(r.label)}</text>`)
  }
  opts.series.forEach((s, i) => {
    const pts = s.points.filter(drawable)
    if (pts.length > 0) {
      out.push(
        `<polyline fill="none" stroke="${s.color}" stroke-width="2" points="${pts.map(([x, y]) => `${f(sx(x))},${f(sy(y))}`).join(' ')}"/>`,
      )
      for (const [x, y] of pts) out.push(`<circle cx="${f(sx(x))}" cy="${f(sy(y))}" r="3" fill="${s.color}"/>`)
    }
    const ly = m.t + 10 + i * 18
    out.push(
      `<line x1="${m.l + pw + 12}" y1="${ly}" x2="${m.l + pw + 36}" y2="${ly}" stroke="${s.color}" stroke-width="2"/>`,
    )
    out.push(`<text x="${m.l + pw + 42}" y="${ly + 4}">${esc(s.name)}</text>`)
  })
  out.push('</svg>')
  return `${out.join('\n')}\n`
}

/** Charts side by side in one SVG (each keeps its own size), e.g. latency beside throughput. */
export function sideBySide(charts: readonly string[]): string {
  const size = (svg: string): [number, number] => {
    const m = /width="(\d+)" height="(\d+)"/.exec(svg)
    return [Number(m?.[1] ?? 0), Number(m?.[2] ?? 0)]
  }
  let x = 0
  const inner = charts.map((svg) => {
    const [w] = size(svg)
    const placed = svg.replace('<svg ', `<svg x="${x}" `)
    x += w
    return placed.trimEnd()
  })
  const h = Math.max(0, ...charts.map((svg) => size(svg)[1]))
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${x}" height="${h}" viewBox="0 0 ${x} ${h}">\n${inner.join('\n')}\n</svg>\n`
}
