#!/usr/bin/env node
import { runCli, setDebug } from './run.js'

/** The CLI entry point (`gwb`, `npm run cli --`), and its only reader of the environment. */
setDebug(process.env['GWB_DEBUG'] === '1')
const code = await runCli(process.argv.slice(2), process.env, process.stdout, process.stderr)
// Exit explicitly: a client library's idle socket or timer must not keep a finished command alive.
process.stdout.write('', () => process.exit(code))
