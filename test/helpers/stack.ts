import { randomUUID } from 'node:crypto'
import pino from 'pino'
import { loadConfig, serverVariables, type Config } from '../../src/config/config.js'

/** Endpoints come from the environment (scripts/services.sh env), with the script's defaults. */
export function testConfig(overrides: Record<string, string> = {}): Config {
  return loadConfig(testEnv(overrides))
}

/** The environment of a test bridge: also what a child bridge process of the same test gets. */
export function testEnv(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    S3_ACCESS_KEY: 'gwb-local',
    S3_SECRET_KEY: 'gwb-local-secret-key',
    CREDENTIALS_KEY: Buffer.alloc(32, 42).toString('base64'),
    ...pickEnv(),
    // Every test gets its own topics, groups and subjects, so files run side by side and again.
    TOPIC_PREFIX: `t-${randomUUID().slice(0, 8)}-`,
    // The suite's own buckets (keys carry each test's own tenant), never the sandbox's.
    S3_BUCKET_PREFIX: 'gwb-test-',
    LOG_LEVEL: process.env['TEST_LOG_LEVEL'] ?? 'silent',
    // Free ports for both listeners (a sandbox on this machine holds the defaults), and no
    // readiness grace period at stop: nothing balances load onto a test bridge.
    ADMIN_PORT: '0',
    SHUTDOWN_DRAIN_MS: '0',
    ...overrides,
  }
}

const SANDBOX_DATABASE = '/gwb'

/**
 * DATABASE_URL, except that the sandbox's database (`gwb`, what `scripts/services.sh env` names) is
 * never used by tests: they take `gwb_test` on the same server instead, so a test run leaves the
 * sandbox's tenants and messages as they were.
 */
export function testDatabaseUrl(): string {
  const url = new URL(process.env['DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/gwb_test')
  if (url.pathname === SANDBOX_DATABASE) url.pathname = '/gwb_test'
  return url.toString()
}

function pickEnv(): Record<string, string> {
  const out: Record<string, string> = {}
  for (const k of serverVariables) {
    const v = process.env[k]
    if (v !== undefined && v !== '') out[k] = v
  }
  // The Kafka client the suite runs on (scripts/test.sh runs the Kafka paths on each).
  const client = process.env['KAFKA_CLIENT']
  if (client !== undefined && client !== '') out['KAFKA_CLIENT'] = client
  out['DATABASE_URL'] = testDatabaseUrl()
  return out
}

export const testLog = pino({ level: process.env['TEST_LOG_LEVEL'] ?? 'silent' })
