#!/usr/bin/env node
import { setDebug } from './debug.js'
import { sandboxEnvFile } from './env-file.js'
import { runCli } from './run.js'
import { hideKnownRuntimeWarnings } from '../runtime-warnings.js'

/** The CLI entry point (`gwb`, `npm run cli --`), and its only reader of the environment. */
setDebug(process.env['GWB_DEBUG'] === '1')
hideKnownRuntimeWarnings()
const code = await runCli(
  process.argv.slice(2),
  process.env,
  process.stdout,
  process.stderr,
  sandboxEnvFile(process.env),
)
// Exit explicitly: a client library's idle socket or timer must not keep a finished command alive.
process.stdout.write('', () => process.exit(code))
