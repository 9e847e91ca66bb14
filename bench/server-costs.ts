/**
 * What one delivered message costs, bridge and servers, from counters read before and after a
 * rate step: CPU from /proc, PostgreSQL's own statistics for the bench database, Redis's command
 * statistics, the bench topics' records and bytes in Kafka, and the archive objects written to S3.
 * Pure: parsing, differences and the table; the reading is in server-probes.ts.
 */

/** One reading of every counter (absent: that server could not be read). */
export interface CostSample {
  /** CPU seconds of every bridge process. */
  bridgeCpuS: number
  /** CPU seconds per server (its whole process tree, children reaped included). */
  serverCpuS: Record<string, number>
  /** PostgreSQL backends serving the bench database: CPU seconds per backend pid. */
  pgBackendCpuS?: Record<string, number>
  /** pg_stat_database of the bench database plus pg_stat_user_tables summed over its tables. */
  pg?: Record<string, number>
  /** INFO commandstats: calls per command, and the microseconds Redis spent in commands. */
  redis?: { calls: Record<string, number>; usec: number }
  /** The bench's topics: records (high watermarks summed) and bytes of their log segments on disk. */
  kafka?: { records: number; bytes: number }
  /** Archive objects under the bench tenant's prefix: count and bytes. */
  s3?: { objects: number; bytes: number }
}

/** One row of the per-message table: a name, the unit and the value per delivered message. */
export interface CostRow {
  what: string
  perMessage: number
  /** Exclusive to the bench (its database, topics, tenant) or shared with whatever else runs. */
  scope: 'bench' | 'machine'
}

export interface StepCosts {
  delivered: number
  rows: CostRow[]
}

/** utime + stime + cutime + cstime in clock ticks, from the text of /proc/<pid>/stat. */
export function parseProcStatTicks(stat: string): { ticks: number; ppid: number } | undefined {
  // The command name (field 2) may hold spaces and parentheses: the fields after it start past the last ')'.
  const close = stat.lastIndexOf(')')
  if (close < 0) return undefined
  const f = stat.slice(close + 2).split(' ')
  const num = (i: number): number => Number(f[i])
  // f[0] is field 3 (state): ppid is field 4, utime..cstime are fields 14..17.
  const ticks = num(11) + num(12) + num(13) + num(14)
  return Number.isFinite(ticks) ? { ticks, ppid: num(1) } : undefined
}

/** `cmdstat_<name>:calls=N,usec=N,...` lines of INFO commandstats. */
export function parseCommandstats(info: string): {
  calls: Record<string, number>
  usec: number
  usecByCommand: Record<string, number>
} {
  const calls: Record<string, number> = {}
  const usecByCommand: Record<string, number> = {}
  let usec = 0
  for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm)) {
    calls[m[1] as string] = Number(m[2])
    usecByCommand[m[1] as string] = Number(m[3])
    usec += Number(m[3])
  }
  return { calls, usec, usecByCommand }
}

/** Per-key growth from `a` to `b`; keys only in `b` count from 0 (a backend or command that appeared). */
export function growth(a: Record<string, number> | undefined, b: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {}
  for (const [k, v] of Object.entries(b)) out[k] = Math.max(0, v - (a?.[k] ?? 0))
  return out
}

const sum = (r: Record<string, number>): number => Object.values(r).reduce((s, v) => s + v, 0)

/** The pg_stat counters shown, and how they are named in the table. */
const pgRows: [string, string][] = [
  ['xact', 'PostgreSQL transactions (commit + rollback; one per autocommit statement)'],
  ['tup_returned', 'PostgreSQL rows returned (read by scans)'],
  ['tup_inserted', 'PostgreSQL rows inserted'],
  ['tup_updated', 'PostgreSQL rows updated'],
  ['idx_scan', 'PostgreSQL index scans'],
  ['blks_hit', 'PostgreSQL buffer hits (8 kB pages)'],
]

/** Every cost of one step divided by the messages delivered in it. */
export function stepCosts(before: CostSample, after: CostSample, delivered: number): StepCosts {
  const rows: CostRow[] = []
  if (delivered <= 0) return { delivered, rows }
  const per = (what: string, v: number, scope: CostRow['scope'] = 'bench'): void =>
    void rows.push({ what, perMessage: v / delivered, scope })
  per('bridge CPU, µs (all bridge processes)', (after.bridgeCpuS - before.bridgeCpuS) * 1e6)
  if (after.pgBackendCpuS !== undefined) {
    per(
      'PostgreSQL CPU, µs (backends of the bench database)',
      sum(growth(before.pgBackendCpuS, after.pgBackendCpuS)) * 1e6,
    )
  }
  if (after.pg !== undefined && before.pg !== undefined) {
    const d = growth(before.pg, after.pg)
    for (const [key, label] of pgRows) if (d[key] !== undefined) per(label, d[key])
  }
  if (after.redis !== undefined && before.redis !== undefined) {
    const d = growth(before.redis.calls, after.redis.calls)
    per('Redis commands (all clients)', sum(d), 'machine')
    const top = Object.entries(d)
      .filter(([, v]) => v / delivered >= 0.01)
      .sort((x, y) => y[1] - x[1])
      .slice(0, 4)
    for (const [cmd, v] of top) per(`Redis \`${cmd.toUpperCase()}\` (all clients)`, v, 'machine')
    per('Redis time in commands, µs (all clients)', after.redis.usec - before.redis.usec, 'machine')
  }
  if (after.kafka !== undefined && before.kafka !== undefined) {
    per('Kafka records appended (bench topics)', after.kafka.records - before.kafka.records)
    per('Kafka bytes on disk (bench topics, after batching)', after.kafka.bytes - before.kafka.bytes)
  }
  if (after.s3 !== undefined && before.s3 !== undefined) {
    per('S3 PUTs (archive objects written)', after.s3.objects - before.s3.objects)
    per('S3 bytes written', after.s3.bytes - before.s3.bytes)
  }
  for (const [server, s] of Object.entries(after.serverCpuS)) {
    const b = before.serverCpuS[server]
    if (b !== undefined) per(`${server} CPU, µs (whole server)`, (s - b) * 1e6, 'machine')
  }
  return { delivered, rows }
}

const fmt = (v: number): string =>
  v === 0 ? '0' : v >= 100 ? String(Math.round(v)) : String(Number(v.toPrecision(v >= 1 ? 3 : 2)))

/** One column per step: each row's cost per delivered message (– where a step did not measure it). */
export function costTable(steps: readonly { rate: number; costs: StepCosts | undefined }[]): string[] {
  const measured = steps.filter((s) => (s.costs?.rows.length ?? 0) > 0)
  if (measured.length === 0) return []
  const names: string[] = []
  const scope = new Map<string, CostRow['scope']>()
  for (const s of measured) {
    for (const r of s.costs?.rows ?? []) {
      if (!scope.has(r.what)) names.push(r.what)
      scope.set(r.what, r.scope)
    }
  }
  const lines = [
    `| per delivered message | ${measured.map((s) => `${s.rate}/s`).join(' | ')} |`,
    `|---|${measured.map(() => '---:').join('|')}|`,
  ]
  for (const what of names) {
    const cells = measured.map((s) => {
      const r = s.costs?.rows.find((x) => x.what === what)
      return r === undefined ? '–' : fmt(r.perMessage)
    })
    lines.push(`| ${what}${scope.get(what) === 'machine' ? ' †' : ''} | ${cells.join(' | ')} |`)
  }
  lines.push(`| messages delivered in the step | ${measured.map((s) => String(s.costs?.delivered ?? 0)).join(' | ')} |`)
  return lines
}
