/** A dependency-free line chart: latency (ms) against offered rate (req/s). Pure: returns SVG text. */

export interface Series {
  name: string
  color: string
  points: readonly (readonly [number, number])[]
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

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
}): string {
  const W = opts.width ?? 720
  const H = opts.height ?? 400
  const m = { l: 64, r: 170, t: 36, b: 48 }
  const pw = W - m.l - m.r
  const ph = H - m.t - m.b
  const all = opts.series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y))
  const xMax = niceMax(Math.max(1, ...all.map(([x]) => x)))
  const yMax = niceMax(Math.max(1, ...all.map(([, y]) => y), ...(opts.refs ?? []).map((r) => r.y)))
  const sx = (x: number): number => m.l + (x / xMax) * pw
  const sy = (y: number): number => m.t + ph - (y / yMax) * ph
  const f = (n: number): string => n.toFixed(1)
  const out: string[] = []
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
  )
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`)
  out.push(`<text x="${W / 2}" y="20" text-anchor="middle" font-size="14">${esc(opts.title)}</text>`)
  for (let i = 0; i <= 5; i++) {
    const y = (yMax * i) / 5
    const x = (xMax * i) / 5
    out.push(`<line x1="${m.l}" y1="${f(sy(y))}" x2="${m.l + pw}" y2="${f(sy(y))}" stroke="#e5e5e5"/>`)
    out.push(`<text x="${m.l - 6}" y="${f(sy(y) + 4)}" text-anchor="end">${Math.round(y)}</text>`)
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
    const pts = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y))
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
