import { randomBytes } from 'node:crypto'
import postgres from 'postgres'
import { closeDb, createDb, type Sql } from '../../src/sinks/db/client.js'
import { migrate } from '../../src/sinks/db/migrate.js'
import { migrationsPath } from '../../src/paths.js'
import { testDatabaseUrl } from './stack.js'

/**
 * Throwaway databases for tests (here and in other stages' tests): each test gets its own
 * `gwb_test_<random>` database on the server of DATABASE_URL, migrated, and dropped afterwards,
 * so tests run in parallel without seeing each other's rows.
 */
export const MIGRATIONS_DIR = migrationsPath

export function databaseUrl(): string {
  return testDatabaseUrl()
}

export interface TestDb {
  sql: Sql
  url: string
  name: string
  drop: () => Promise<void>
}

export async function createTestDb(opts: { migrate?: boolean; max?: number } = {}): Promise<TestDb> {
  const base = new URL(databaseUrl())
  const name = `gwb_test_${randomBytes(6).toString('hex')}`
  // Connect to the maintenance database: the configured one may not exist yet.
  const adminUrl = new URL(base)
  adminUrl.pathname = '/postgres'
  const admin = postgres(adminUrl.toString(), { max: 1, onnotice: () => undefined })
  await admin`create database ${admin(name)}`
  const url = new URL(base)
  url.pathname = `/${name}`
  const sql = createDb(url.toString(), { max: opts.max ?? 10 })
  if (opts.migrate !== false) await migrate(sql, MIGRATIONS_DIR)
  return {
    sql,
    url: url.toString(),
    name,
    async drop() {
      await closeDb(sql, 1)
      await admin`drop database if exists ${admin(name)} with (force)`
      await admin.end({ timeout: 1 })
    },
  }
}
