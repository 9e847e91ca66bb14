import { startBridge } from './app/bridge.js'
import { startTracing } from './app/tracing.js'
import { loadConfig } from './config/config.js'
import { errorMessage, isBridgeError } from './errors.js'
import { createLogger } from './log.js'
import { hideKnownRuntimeWarnings } from './runtime-warnings.js'

/**
 * The process entry point, and the only reader of the environment. Roles come from ROLES;
 * SIGTERM and SIGINT drain in-flight work and commit before exit.
 */
async function main(): Promise<void> {
  hideKnownRuntimeWarnings()
  let config
  try {
    config = loadConfig(process.env)
  } catch (err) {
    process.stderr.write(`${errorMessage(err)}\n`)
    process.exit(2)
  }
  const log = createLogger(config.logLevel)
  const tracing = startTracing(config.tracing)
  let bridge
  try {
    bridge = await startBridge(config, log)
  } catch (err) {
    log.fatal({ err: errorMessage(err), code: isBridgeError(err) ? err.code : undefined }, 'start failed')
    log.flush()
    process.stderr.write(`start failed: ${errorMessage(err)}\n`)
    process.exit(1)
  }
  let stopping = false
  const stop = (signal: string): void => {
    if (stopping) return
    stopping = true
    log.info({ signal }, 'stopping: draining in-flight records')
    bridge
      .stop()
      .then(() => tracing.shutdown())
      .then(() => process.exit(0))
      .catch((err: unknown) => {
        log.error({ err: errorMessage(err) }, 'stop failed')
        process.exit(1)
      })
  }
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGINT', () => stop('SIGINT'))
}

await main()
