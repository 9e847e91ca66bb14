import { migrationsPath } from '../../paths.js'
import { migrate } from '../../sinks/db/migrate.js'
import { bool, parseFlags } from '../args.js'
import { withSql } from '../context.js'
import { line, reporter, type Command } from '../io.js'

export const migrateHelp = `usage: gwb migrate [--json]

Applies the pending SQL migrations (safe to run again: applied ones are skipped, a changed or
unknown one stops with an error) and prints what was applied and the current schema version.
`

export const migrateCommand: Command = async (config, args, out, err) => {
  const p = parseFlags('migrate', args, { json: { type: 'boolean' } })
  const result = await withSql(config, (sql) => migrate(sql, migrationsPath))
  reporter(bool(p, 'json'), out, err).summary({ applied: result.applied, schemaVersion: result.current }, () => {
    if (result.applied.length === 0) line(out, 'no pending migrations')
    for (const name of result.applied) line(out, `applied ${name}`)
    line(out, `schema version ${result.current}`)
  })
}
