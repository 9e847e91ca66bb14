import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseEnv } from 'node:util'
import type { Env } from '../config/parse-env.js'
import { projectRoot } from '../paths.js'
import { UsageError } from './errors.js'

/** Where the sandbox (`bash scripts/run.sh`) writes its settings, and the CLI looks first. */
export const sandboxEnvFile = (env: Env): string => env['GWB_ENV_FILE'] ?? join(projectRoot, '.services', 'sandbox.env')

/**
 * `--env-file FILE` (before the command) adds the file's variables to the environment; without it,
 * `defaultFile` when it exists (the entry point passes the sandbox's, so the CLI works right after
 * `bash scripts/run.sh`; tests pass none and stay hermetic). Variables already in the environment win over the file's, as with node --env-file.
 */
export function withEnvFile(
  argv: readonly string[],
  env: Env,
  defaultFile: string | undefined,
): { argv: string[]; env: Env; file?: string } {
  const rest = [...argv]
  let file: string | undefined
  let explicit = false
  const at = rest.findIndex((a) => a === '--env-file' || a.startsWith('--env-file='))
  if (at === 0) {
    const arg = rest[0] as string
    file = arg.includes('=') ? arg.slice('--env-file='.length) : rest[1]
    rest.splice(0, arg.includes('=') ? 1 : 2)
    if (file === undefined || file === '') throw new UsageError('--env-file needs a file name')
    explicit = true
  } else if (defaultFile !== undefined) {
    file = defaultFile
  } else {
    return { argv: rest, env }
  }
  if (!existsSync(file)) {
    if (explicit) throw new UsageError(`--env-file ${file}: no such file`)
    return { argv: rest, env }
  }
  let parsed: Record<string, string>
  try {
    parsed = parseEnv(readFileSync(file, 'utf8')) as Record<string, string>
  } catch (err) {
    throw new UsageError(`--env-file ${file}: ${err instanceof Error ? err.message : String(err)}`)
  }
  return { argv: rest, env: { ...parsed, ...env }, file }
}
