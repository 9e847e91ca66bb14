import pino from 'pino'
import type { Kafka } from 'kafkajs'
import type { Config } from '../config/config.js'
import { loadSchemaMap } from '../app/resources.js'
import { createLogger, type Logger } from '../log.js'
import { topicCatalog, type TopicSpec } from '../schemas/catalog.js'
import { createTenantDirectory, type TenantDirectory } from '../sinks/cache/directory.js'
import { createCache, createRedis } from '../sinks/cache/redis.js'
import { closeDb, createDb, type Sql } from '../sinks/db/client.js'
import { keyringOf } from '../sinks/db/crypto.js'
import { checkKafka, createKafka } from '../sinks/kafka/client.js'
import { createKafkajsProducer } from '../sinks/kafka/kafkajs-producer.js'
import type { RecordProducer } from '../sinks/kafka/record-producer.js'
import { registerSchemas, type TopicCodec } from '../sinks/schema-registry.js'
import { isDebug } from './debug.js'
import { UsageError } from './errors.js'

/**
 * The client libraries' logger: silent unless GWB_DEBUG=1, so kafkajs's JSON warnings (a rebalance,
 * a retried request) never land between the command's own lines; then to stderr at LOG_LEVEL.
 */
export function cliLogger(config: Config): Logger {
  return createLogger(isDebug() ? config.logLevel : 'silent', pino.destination({ fd: 2, sync: true }))
}

export async function withSql<T>(config: Config, run: (sql: Sql) => Promise<T>): Promise<T> {
  const sql = createDb(config.databaseUrl, { max: 2, applicationName: 'gwb-cli', tls: config.databaseTls })
  try {
    return await run(sql)
  } finally {
    await closeDb(sql)
  }
}

/** Postgres plus the tenant directory (Redis), for commands that must invalidate caches. */
export async function withDirectory<T>(
  config: Config,
  run: (sql: Sql, directory: TenantDirectory) => Promise<T>,
): Promise<T> {
  return withSql(config, async (sql) => {
    const redis = createRedis(config.redisUrl, config.redisTlsCa)
    const cache = createCache(redis, { prefix: '', logger: cliLogger(config) })
    try {
      const directory = createTenantDirectory({ sql, cache, key: keyringOf(config), localTtlMs: 1 })
      return await run(sql, directory)
    } finally {
      await cache.close()
      redis.disconnect()
    }
  })
}

export interface KafkaContext {
  kafka: Kafka
  codec: TopicCodec
  specs: TopicSpec[]
  log: Logger
}

/**
 * Kafka, the topics' codecs and a checked connection. Only `gwb setup` registers schemas
 * (`register: true`); every other command looks their ids up, so an operator's read-only registry
 * credentials are enough for replay, dead letters and the archive.
 */
export async function withKafka<T>(
  config: Config,
  run: (k: KafkaContext) => Promise<T>,
  opts: { register?: boolean } = {},
): Promise<T> {
  const log = cliLogger(config)
  const specs = topicCatalog(config.kafka.topics)
  const codec = await registerSchemas(config.registryUrl, specs, await loadSchemaMap(), {
    register: opts.register ?? false,
    auth: config.registryAuth,
  })
  const { brokers, clientId, security } = config.kafka
  const kafka = createKafka({ brokers, clientId: `${clientId}-cli`, security, log })
  await checkKafka(kafka, brokers, security)
  return run({ kafka, codec, specs, log })
}

export async function withProducer<T>(kafka: Kafka, run: (p: RecordProducer) => Promise<T>): Promise<T> {
  const producer = await createKafkajsProducer(kafka, { lingerMs: 5 })
  try {
    return await run(producer)
  } finally {
    await producer.close()
  }
}

/**
 * A topic flag: the stable short name (`genesys-outbound`) or the full name with the configured
 * prefix. Only topics of the catalog are accepted, so a typo names the choices.
 */
export function resolveTopic(command: string, config: Config, specs: readonly TopicSpec[], name: string): TopicSpec {
  const prefix = topicPrefix(config)
  const hit = specs.find((s) => s.topic === name || s.topic === `${prefix}${name}`)
  if (hit !== undefined) return hit
  const choices = specs.map((s) => s.topic.slice(prefix.length)).join(', ')
  throw new UsageError(`${command}: unknown topic "${name}"; one of ${choices}`)
}

export function topicPrefix(config: Config): string {
  const t = config.kafka.topics.genesysOutbound
  return t.slice(0, t.length - 'genesys-outbound'.length)
}
