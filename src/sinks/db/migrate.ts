import { createHash } from 'node:crypto'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { BridgeError } from '../../errors.js'
import type { Sql } from './client.js'

export interface Migration {
  version: number
  name: string
  checksum: string
  body: string
}

export interface MigrateResult {
  /** Names (file names without .sql) of the migrations this call applied, in order. */
  applied: string[]
  /** Highest version in the database after the run. */
  current: number
}

const FILE = /^(\d{4})_([a-z0-9_]+)\.sql$/

/** Any constant works; it only has to be the same in every process of the bridge. */
const LOCK_KEY = 7_320_114_001

/** Line endings are normalised so a checkout with CRLF does not look like a changed migration. */
export function checksumOf(body: string): string {
  return createHash('sha256').update(body.replace(/\r\n/g, '\n')).digest('hex')
}

export async function loadMigrations(dir: string): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.sql')).sort()
  const out: Migration[] = []
  for (const file of files) {
    const m = FILE.exec(file)
    if (m === null) {
      throw new BridgeError('GWB_MIGRATION', `migration file name ${file} does not match NNNN_name.sql`)
    }
    const version = Number(m[1])
    if (out.some((x) => x.version === version)) {
      throw new BridgeError('GWB_MIGRATION', `two migration files have version ${version}`)
    }
    const body = await readFile(join(dir, file), 'utf8')
    out.push({ version, name: file.slice(0, -'.sql'.length), checksum: checksumOf(body), body })
  }
  return out
}

interface AppliedRow {
  version: number
  name: string
  checksum: string
}

/** Refuses a database this build cannot safely run against. Pure, so it is easy to reason about. */
function verify(applied: AppliedRow[], code: Migration[]): void {
  const codeMax = code.at(-1)?.version ?? 0
  const dbMax = applied.reduce((m, r) => Math.max(m, r.version), 0)
  if (dbMax > codeMax) {
    throw new BridgeError(
      'GWB_MIGRATION',
      `database schema version ${dbMax} is newer than this build (${codeMax}); upgrade the bridge`,
      { details: { databaseVersion: dbMax, buildVersion: codeMax } },
    )
  }
  for (const row of applied) {
    const mine = code.find((m) => m.version === row.version)
    if (mine === undefined) {
      throw new BridgeError('GWB_MIGRATION', `database has migration ${row.name} that this build does not know`)
    }
    if (mine.checksum !== row.checksum) {
      throw new BridgeError(
        'GWB_MIGRATION',
        `migration ${row.name} was changed after it was applied (checksum differs); add a new migration instead`,
        { details: { version: row.version } },
      )
    }
  }
}

/**
 * Applies pending migrations, one transaction each. Every transaction first takes a transaction-level
 * advisory lock, so processes starting at once serialise here and each re-reads what the others did;
 * a transaction lock also cannot leak on a pooled connection the way a session lock can.
 */
export async function migrate(sql: Sql, dir: string): Promise<MigrateResult> {
  const code = await loadMigrations(dir)
  const applied: string[] = []
  for (;;) {
    const step = await sql.begin(async (tx) => {
      await tx`select pg_advisory_xact_lock(${LOCK_KEY})`
      await tx`
        create table if not exists schema_migrations (
          version int primary key,
          name text not null,
          checksum text not null,
          applied_at timestamptz not null default now()
        )`
      const rows = await tx<AppliedRow[]>`select version, name, checksum from schema_migrations order by version`
      verify(rows, code)
      const done = new Set(rows.map((r) => r.version))
      const next = code.find((m) => !done.has(m.version))
      const current = rows.at(-1)?.version ?? 0
      if (next === undefined) return { current, name: undefined }
      // Simple protocol: a migration file holds several statements and no parameters.
      await tx.unsafe(next.body).simple()
      await tx`insert into schema_migrations (version, name, checksum) values (${next.version}, ${next.name}, ${next.checksum})`
      return { current: next.version, name: next.name }
    })
    if (step.name === undefined) return { applied, current: step.current }
    applied.push(step.name)
  }
}

/**
 * For a process started without the right to migrate: reads which migrations the database has and
 * refuses to start unless it holds exactly this build's (applied by `gwb setup` beforehand). Reads
 * only, so it needs no DDL right.
 */
export async function checkMigrated(sql: Sql, dir: string): Promise<number> {
  const code = await loadMigrations(dir)
  const [table] = await sql<{ name: string | null }[]>`select to_regclass('schema_migrations')::text as name`
  const rows =
    table?.name == null
      ? []
      : await sql<AppliedRow[]>`select version, name, checksum from schema_migrations order by version`
  verify(rows, code)
  const missing = code.filter((m) => !rows.some((r) => r.version === m.version))
  if (missing.length > 0) {
    throw new BridgeError(
      'GWB_SETUP_REQUIRED',
      `the database lacks ${missing.length} migration(s) of this build (${missing.map((m) => m.name).join(', ')}): run \`gwb setup\` first (or allow migrations at start with START_SETUP)`,
      { details: { missing: missing.map((m) => m.name) } },
    )
  }
  return rows.at(-1)?.version ?? 0
}
