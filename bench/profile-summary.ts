import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'

/**
 * Summarises V8 .cpuprofile files (node --cpu-prof): self time by function and by package/area.
 *   node dist/bench/profile-summary.js <dir-or-file> [top]
 */

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  children?: number[]
}
interface Profile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
}

export function areaOf(url: string, fn: string): string {
  if (url === '')
    return fn === '(garbage collector)'
      ? 'GC'
      : fn === '(idle)'
        ? 'idle'
        : fn === '(program)'
          ? 'program (native)'
          : 'native'
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)
  if (nm !== null) return `npm:${nm[1]}`
  if (url.startsWith('node:')) return url
  const src = /\/dist\/(src\/[^/]+(?:\/[^/]+)?)/.exec(url)
  return src !== null ? (src[1] as string) : url
}

export function summarizeProfile(p: Profile): {
  totalMs: number
  byFunction: [string, number][]
  byArea: [string, number][]
} {
  const byId = new Map(p.nodes.map((n) => [n.id, n]))
  const self = new Map<number, number>()
  p.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (p.timeDeltas[i] ?? 0) / 1000))
  const fn = new Map<string, number>()
  const area = new Map<string, number>()
  let total = 0
  for (const [id, ms] of self) {
    const n = byId.get(id)
    if (n === undefined) continue
    const { functionName, url, lineNumber } = n.callFrame
    const a = areaOf(url, functionName)
    total += ms
    area.set(a, (area.get(a) ?? 0) + ms)
    const k = `${functionName || '(anonymous)'} ${url.replace(/^.*\/(node_modules|dist)\//, '$1/')}:${lineNumber + 1}`
    fn.set(k, (fn.get(k) ?? 0) + ms)
  }
  const sort = (m: Map<string, number>): [string, number][] => [...m].sort((x, y) => y[1] - x[1])
  return { totalMs: total, byFunction: sort(fn), byArea: sort(area) }
}

const arg = process.argv[2]
if (arg !== undefined) {
  const top = Number(process.argv[3] ?? 25)
  const files = arg.endsWith('.cpuprofile')
    ? [arg]
    : readdirSync(arg)
        .filter((f) => f.endsWith('.cpuprofile'))
        .map((f) => join(arg, f))
  for (const f of files) {
    const s = summarizeProfile(JSON.parse(readFileSync(f, 'utf8')) as Profile)
    const pct = (ms: number): string => `${((100 * ms) / s.totalMs).toFixed(1).padStart(5)}%`
    process.stdout.write(`${f}: ${(s.totalMs / 1000).toFixed(1)} s sampled\n  by area (self time):\n`)
    for (const [k, ms] of s.byArea.slice(0, top)) process.stdout.write(`  ${pct(ms)}  ${k}\n`)
    process.stdout.write('  by function (self time):\n')
    for (const [k, ms] of s.byFunction.slice(0, top)) process.stdout.write(`  ${pct(ms)}  ${k}\n`)
  }
}
