import { keyringOf } from '../../sinks/db/crypto.js'
import { reencryptCredentials, type ReencryptSummary } from '../../sinks/db/reencrypt.js'
import { bool, parseFlags } from '../args.js'
import { withSql } from '../context.js'
import { CliFailure, UsageError } from '../errors.js'
import { line, reporter, type Command, type Output } from '../io.js'

export const credentialsHelp = `usage: gwb credentials <subcommand>

  reencrypt [--dry-run] [--json]
        re-encrypt every tenant credential row under CREDENTIALS_KEY. Rows sealed under a key listed
        in CREDENTIALS_KEY_PREVIOUS (comma-separated, base64) are opened with it and sealed again;
        rows already under CREDENTIALS_KEY are left alone, so a second run changes nothing.
        Reports the counts; exits 1 if a row could not be opened by any configured key.

Rotating CREDENTIALS_KEY (see docs/security.md):
  1. every bridge process and the CLI: CREDENTIALS_KEY=<new>, CREDENTIALS_KEY_PREVIOUS=<old>; restart
  2. once every process runs with both: gwb credentials reencrypt   (it must report 0 unreadable)
  3. drop CREDENTIALS_KEY_PREVIOUS everywhere; restart
`

function print(out: Output, s: ReencryptSummary): void {
  const verb = s.dryRun ? 'would re-encrypt' : 're-encrypted'
  line(
    out,
    `${s.rows} credential row(s): ${s.reencrypted} ${verb} under key ${s.keyId}, ${s.alreadyCurrent} already under it, ${s.unreadable.length} unreadable`,
  )
  for (const u of s.unreadable) line(out, `  unreadable: tenant ${u.tenantId} ${u.type} (key ${u.keyId}): ${u.reason}`)
}

const reencrypt: Command = async (config, args, out, err) => {
  const CMD = 'credentials reencrypt'
  const p = parseFlags(CMD, args, { 'dry-run': { type: 'boolean' }, json: { type: 'boolean' } })
  const summary = await withSql(config, (sql) =>
    reencryptCredentials(sql, keyringOf(config), { dryRun: bool(p, 'dry-run') }),
  )
  reporter(bool(p, 'json'), out, err).summary(summary, () => print(out, summary))
  if (summary.unreadable.length > 0) {
    throw new CliFailure(
      `${summary.unreadable.length} row(s) could not be opened: list the key they were sealed with in CREDENTIALS_KEY_PREVIOUS`,
    )
  }
}

const subcommands: Record<string, Command> = { reencrypt }

export const credentials: Command = async (config, args, out, err) => {
  const [sub, ...rest] = args
  const run = sub === undefined ? undefined : subcommands[sub]
  if (run === undefined) {
    throw new UsageError(
      `credentials: ${sub === undefined ? 'missing subcommand' : `unknown subcommand "${sub}"`}; one of ${Object.keys(subcommands).join(', ')}`,
    )
  }
  await run(config, rest, out, err)
}
