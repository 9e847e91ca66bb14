import { migrationsPath } from '../../paths.js'
import { migrate } from '../../sinks/db/migrate.js'
import { parseFlags } from '../args.js'
import { withSql } from '../context.js'
import { line, type Command } from '../io.js'

export const migrateHelp = `usage: gwb migrate

Applies the pending SQL migrations (safe to run again: applied ones are skipped, a changed or
unknown one stops with an error) and prints what was applied and the current schema version.
`

export const migrateCommand: Command = async (config, args, out) => {
  parseFlags('migrate', args, {})
  const result = await withSql(config, (sql) => migrate(sql, migrationsPath))
  if (result.applied.length === 0) line(out, 'no pending migrations')
  for (const name of result.applied) line(out, `applied ${name}`)
  line(out, `schema version ${result.current}`)
}
