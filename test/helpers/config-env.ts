import { loadConfig } from '../../src/config/config.js'
import { isBridgeError } from '../../src/errors.js'

/** The least environment a configuration accepts: everything else has a default. */
export const minimalEnv: Readonly<Record<string, string>> = Object.freeze({
  S3_ACCESS_KEY: 'a',
  S3_SECRET_KEY: 'b',
  CREDENTIALS_KEY: Buffer.alloc(32, 7).toString('base64'),
})

/** The problems loadConfig names for minimalEnv plus `env` ('' when it accepts them). */
export function configProblems(env: Record<string, string>): string {
  try {
    loadConfig({ ...minimalEnv, ...env })
  } catch (err) {
    if (isBridgeError(err) && err.code === 'GWB_CONFIG') return err.message
    throw err
  }
  return ''
}
