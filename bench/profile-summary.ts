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
export interface Profile {
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

/**
 * The stage of the message's path an area belongs to, for the per-stage CPU table. Self time only:
 * a flow's own code is "flows", the kafkajs it calls is "Kafka". Areas not named here keep their name.
 */
const stages: [RegExp, string][] = [
  [/^(src\/ingest|npm:uWebSockets\.js)/, 'ingest (HTTP server, signature, parse)'],
  [/^(src\/flows\/archive|src\/processors\/archive-batch|npm:minio)/, 'archive (batches, S3 client)'],
  [/^(npm:kafkajs|src\/sinks\/kafka|src\/consumer)/, 'Kafka client (kafkajs, consumer, producer)'],
  [
    /^(npm:avsc|npm:@kafkajs\/confluent-schema-registry|src\/schemas|src\/sinks\/schema-registry)/,
    'Avro (avsc, registry)',
  ],
  [/^(npm:postgres|src\/sinks\/db)/, 'PostgreSQL client (postgres.js, claim, tracking)'],
  [
    /^(npm:ioredis|npm:redis-parser|npm:cluster-key-slot|src\/sinks\/cache)/,
    'Redis client (ioredis, rate limit, caches)',
  ],
  [/^(npm:undici|src\/sinks\/(meta-client|http-pool|genesys))/, 'Meta/Genesys HTTP (undici)'],
  [/^(npm:prom-client|npm:tdigest|npm:bintrees|src\/metrics)/, 'metrics (prom-client)'],
  [/^(npm:pino|npm:sonic-boom|npm:thread-stream|src\/log)/, 'logs (pino)'],
  [/^(src\/flows|src\/processors|src\/app|src\/batcher|src\/semaphore)/, 'flows and processors (own code)'],
  [/^node:/, 'Node core (net, streams, timers)'],
  [/^GC$/, 'GC'],
  [/^(program \(native\)|native)$/, 'native (V8, libuv, JSON, crypto)'],
]

export function stageOf(area: string): string {
  return stages.find(([re]) => re.test(area))?.[1] ?? area
}

/**
 * Self time per stage over several profiles (the bridge processes of one run), idle left out:
 * each stage's share of the CPU the bridge actually used, largest first.
 */
export function stageShares(profiles: readonly Profile[]): { stage: string; share: number }[] {
  const byStage = new Map<string, number>()
  let busy = 0
  for (const p of profiles) {
    for (const [area, ms] of summarizeProfile(p).byArea) {
      if (area === 'idle') continue
      busy += ms
      const st = stageOf(area)
      byStage.set(st, (byStage.get(st) ?? 0) + ms)
    }
  }
  return [...byStage]
    .map(([stage, ms]) => ({ stage, share: busy > 0 ? ms / busy : 0 }))
    .sort((x, y) => y.share - x.share)
}

/** Every .cpuprofile in a directory, parsed (none: the directory is missing or empty). */
export function readProfiles(dir: string): Profile[] {
  let names: string[]
  try {
    names = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'))
  } catch {
    return []
  }
  return names.map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as Profile)
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
if (arg !== undefined && /profile-summary\.[jt]s$/.test(process.argv[1] ?? '')) {
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
  const all = files.map((f) => JSON.parse(readFileSync(f, 'utf8')) as Profile)
  process.stdout.write('all files, by stage (self time, share of busy CPU):\n')
  for (const { stage, share } of stageShares(all))
    process.stdout.write(`  ${(100 * share).toFixed(1).padStart(5)}%  ${stage}\n`)
}
