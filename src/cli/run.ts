import { loadConfig, type Config } from '../config/config.js'
import type { Env } from '../config/parse-env.js'
import { errorMessage, isBridgeError } from '../errors.js'
import { packageVersion } from '../paths.js'
import { archive, archiveHelp } from './commands/archive.js'
import { credentials, credentialsHelp } from './commands/credentials.js'
import { deadLetters, deadLettersHelp } from './commands/dead-letters.js'
import { inDoubt, inDoubtHelp } from './commands/in-doubt.js'
import { migrateCommand, migrateHelp } from './commands/migrate.js'
import { replay, replayHelp } from './commands/replay.js'
import { retention, retentionHelp } from './commands/retention.js'
import { setup, setupHelp } from './commands/setup.js'
import { tenants, tenantsHelp } from './commands/tenants.js'
import { isDebug } from './debug.js'
import { withEnvFile } from './env-file.js'
import { CliFailure, UsageError } from './errors.js'
import type { Command, Output } from './io.js'

interface Entry {
  run: Command
  help: string
  summary: string
}

export const commands: Record<string, Entry> = {
  setup: { run: setup, help: setupHelp, summary: 'migrations, schemas, topics and buckets, before a rollout' },
  migrate: { run: migrateCommand, help: migrateHelp, summary: 'apply the database migrations' },
  tenants: { run: tenants, help: tenantsHelp, summary: 'add, list, show, disable, enable, rotate tenants' },
  credentials: { run: credentials, help: credentialsHelp, summary: 're-encrypt credentials after a key rotation' },
  replay: { run: replay, help: replayHelp, summary: 'replay a topic by offset or time range' },
  archive: { run: archive, help: archiveHelp, summary: 'replay raw webhooks from the S3 archive' },
  'dead-letters': { run: deadLetters, help: deadLettersHelp, summary: 'list and re-drive dead letters' },
  'in-doubt': { run: inDoubt, help: inDoubtHelp, summary: 'list sends whose outcome is unknown' },
  retention: { run: retention, help: retentionHelp, summary: 'apply the archive retention' },
}

export function usage(): string {
  const width = Math.max(...Object.keys(commands).map((c) => c.length))
  const list = Object.entries(commands)
    .map(([name, e]) => `  ${name.padEnd(width)}  ${e.summary}`)
    .join('\n')
  return `usage: gwb <command> [options]   (gwb <command> --help for its options)

${list}

Options before the command:
  --env-file FILE   read variables from FILE (the environment wins); without it, the sandbox's
                    .services/sandbox.env is read when it exists (GWB_ENV_FILE names another)
  --version         the CLI's version
Configuration comes from the same environment variables as the bridge (see docs/cli.md).
GWB_DEBUG=1 adds stacks and the client libraries' logs (kafkajs) to stderr.
Exit codes: 0 done, 1 failed, 2 usage or configuration error.
`
}

const isHelp = (a: string | undefined): boolean => a === '--help' || a === '-h' || a === 'help'

/**
 * The whole CLI as a function: parses the command line, loads the configuration from `env` once,
 * runs the command and maps every expected error to a message and an exit code (never a stack).
 */
export async function runCli(
  argv: readonly string[],
  environment: Env,
  out: Output,
  err: Output,
  defaultEnvFile?: string,
): Promise<number> {
  let words: string[]
  let env: Env
  try {
    ;({ argv: words, env } = withEnvFile(argv, environment, defaultEnvFile))
  } catch (e) {
    err.write(`gwb: ${errorMessage(e)}\n`)
    return 2
  }
  const [name, ...args] = words
  if (name === '--version' || name === '-V') {
    out.write(`gwb ${packageVersion()} (node ${process.versions.node})\n`)
    return 0
  }
  if (name === undefined || isHelp(name)) {
    ;(name === undefined ? err : out).write(usage())
    return name === undefined ? 2 : 0
  }
  const entry = commands[name]
  if (entry === undefined) {
    err.write(`gwb: unknown command "${name}"\n\n${usage()}`)
    return 2
  }
  if (args.some(isHelp)) {
    out.write(entry.help)
    return 0
  }
  let config: Config
  try {
    config = loadConfig(env)
  } catch (e) {
    err.write(`gwb: ${errorMessage(e)}\n`)
    return 2
  }
  return runCommand(entry.run, config, args, out, err)
}

export async function runCommand(
  command: Command,
  config: Config,
  args: readonly string[],
  out: Output,
  err: Output,
): Promise<number> {
  try {
    await command(config, args, out, err)
    return 0
  } catch (e) {
    if (e instanceof UsageError) {
      err.write(`gwb ${e.message}\n(see --help)\n`)
      return 2
    }
    if (e instanceof CliFailure) {
      err.write(`gwb: ${e.message}\n`)
      return 1
    }
    err.write(`gwb: failed: ${isBridgeError(e) ? `${e.code}: ` : ''}${errorMessage(e)}\n`)
    if (isDebug()) err.write(`${e instanceof Error ? (e.stack ?? '') : ''}\n`)
    return 1
  }
}
