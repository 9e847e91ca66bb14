import { randomUUID } from 'node:crypto'
import pino from 'pino'
import { loadConfig, type Config } from '../../src/config/config.js'

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
    LOG_LEVEL: process.env['TEST_LOG_LEVEL'] ?? 'silent',
    ...overrides,
  }
}

function pickEnv(): Record<string, string> {
  const out: Record<string, string> = {}
  for (const k of [
    'KAFKA_BROKERS',
    'SCHEMA_REGISTRY_URL',
    'DATABASE_URL',
    'REDIS_URL',
    'S3_ENDPOINT',
    'S3_ACCESS_KEY',
    'S3_SECRET_KEY',
  ]) {
    const v = process.env[k]
    if (v !== undefined && v !== '') out[k] = v
  }
  return out
}

export const testLog = pino({ level: process.env['TEST_LOG_LEVEL'] ?? 'silent' })
