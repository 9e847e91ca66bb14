import { errorMessage } from '../errors.js'
import type { Kafka } from 'kafkajs'
import type { Redis } from 'ioredis'
import type { Config } from '../config/config.js'
import type { Logger } from '../log.js'
import { instrumentGenesysApi, instrumentMetaClient, type Metrics } from '../metrics.js'
import { migrationsPath } from '../paths.js'
import { topicCatalog, type RecordName } from '../schemas/catalog.js'
import type { AvroType } from '../schemas/generate-types.js'
import { loadSchemas } from '../schemas/load-schemas.js'
import { createTenantDirectory, type TenantDirectory } from '../sinks/cache/directory.js'
import { createMappingResolver, type MappingResolver } from '../sinks/cache/mapping-cache.js'
import { createCache, createRedis } from '../sinks/cache/redis.js'
import { createSendRateLimiter, type SendRateLimiter } from '../sinks/cache/send-rate-limiter.js'
import { closeDb, createDb, type Sql } from '../sinks/db/client.js'
import { keyringOf } from '../sinks/db/crypto.js'
import { createActivityToucher, type ActivityToucher } from '../sinks/db/mappings.js'
import { durableTracking } from '../sinks/db/durable-tracking.js'
import { createSettlementStore, type SettlementStore } from '../sinks/db/settlement.js'
import { checkMigrated, migrate } from '../sinks/db/migrate.js'
import { createClaimer, type Claimer } from '../sinks/db/claims.js'
import { createTrackingWriter, type TrackingWriter } from '../sinks/db/tracking-outcomes.js'
import { createGenesysApi, type GenesysApi } from '../sinks/genesys-api.js'
import { checkKafka, createKafka } from '../sinks/kafka/client.js'
import { openRecordProducer, recordClient, type RecordClient } from '../sinks/kafka/record-client.js'
import type { RecordProducer } from '../sinks/kafka/record-producer.js'
import { checkTopics, ensureTopics } from '../sinks/kafka/topics.js'
import { createMediaRehost, metaMediaDownload, type MediaRehost } from '../sinks/media.js'
import { createMediaFetcher, type Resolver } from '../sinks/media-fetch.js'
import { createMetaClient, type MetaClient } from '../sinks/meta-client.js'
import { createObjectStore, type ObjectStore } from '../sinks/object-store.js'
import { registerSchemas, type TopicCodec } from '../sinks/schema-registry.js'
import { createByteBudget } from '../semaphore.js'
import { ALL_BUCKETS } from '../processors/object-keys.js'
import { traceFetcher, traceStore } from '../tracing/clients.js'

/** Every long-lived connection of a process, created once at start and closed once at stop. */
export interface Resources {
  config: Config
  log: Logger
  metrics: Metrics
  /** Admin work: topics, lag, offsets. */
  kafka: Kafka
  /** The client of the flows' records (KAFKA_CLIENT). */
  records: RecordClient
  codec: TopicCodec
  producer: RecordProducer
  sql: Sql
  redis: Redis
  directory: TenantDirectory
  mappings: MappingResolver
  toucher: ActivityToucher
  claimer: Claimer
  tracking: TrackingWriter
  settlement: SettlementStore
  store: ObjectStore
  meta: MetaClient
  genesys: GenesysApi
  media: MediaRehost
  sendRate: SendRateLimiter
  close: () => Promise<void>
}

export async function loadSchemaMap(): Promise<Map<RecordName, AvroType>> {
  return new Map((await loadSchemas()).map((s) => [s.name as RecordName, s.schema]))
}

/**
 * The database schema, the Avro schemas and the topics: set up here where START_SETUP allows it,
 * otherwise only checked (read rights), refusing to start with a message naming `gwb setup`.
 */
async function prepare(config: Config, sql: Sql, kafka: Kafka): Promise<TopicCodec> {
  const on = config.startSetup
  await (on.migrations ? migrate(sql, migrationsPath) : checkMigrated(sql, migrationsPath))
  const specs = topicCatalog(config.kafka.topics)
  const codec = await registerSchemas(config.registryUrl, specs, await loadSchemaMap(), {
    register: on.schemas,
    auth: config.registryAuth,
  })
  const k = config.kafka
  await (on.topics
    ? ensureTopics(kafka, specs, k.partitions, k.replicationFactor, k.minInsyncReplicas)
    : checkTopics(kafka, specs))
  return codec
}

/**
 * Start order matters: the database schema and the Avro schemas are checked before anything is
 * consumed or accepted, so an incompatible build stops at start with a clear error instead of
 * writing records nobody can read.
 */
/**
 * What a caller may replace: tests resolve host names of their own (docs/security.md says how),
 * and drive the clock that ends a secret rotation's overlap at ingest.
 */
export interface ResourceDeps {
  resolve?: Resolver
  now?: () => number
}

export async function openResources(
  config: Config,
  log: Logger,
  metrics: Metrics,
  deps: ResourceDeps = {},
): Promise<Resources> {
  const sql = createDb(config.databaseUrl, { max: config.dbPoolMax, tls: config.databaseTls })
  const k = config.kafka
  const connection = { brokers: k.brokers, clientId: k.clientId, security: k.security }
  const kafka = createKafka({ ...connection, log })
  let codec: TopicCodec
  try {
    await checkKafka(kafka, k.brokers, k.security)
    codec = await prepare(config, sql, kafka)
  } catch (err) {
    await closeDb(sql)
    throw err
  }
  const records = recordClient(k.client, kafka, connection)
  const producer = await openRecordProducer(records, {
    lingerMs: config.kafka.produceLingerMs,
    compression: config.kafka.compression,
    metrics,
  })

  const redis = createRedis(config.redisUrl, config.redisTlsCa)
  // Connected before the first record, so the shared send budget is used from the start; a Redis
  // that does not answer within a second is not waited for (it is a cache: everything falls back).
  await Promise.race([redis.ping().catch(() => undefined), new Promise((r) => setTimeout(r, 1000))])
  const cacheLog = log.child({ component: 'cache' })
  const cache = createCache(redis, { prefix: '', logger: cacheLog })
  metrics.watchCache('redis', () => cache.stats())
  const directory = createTenantDirectory({
    sql,
    cache,
    key: keyringOf(config),
    localTtlMs: 5000,
    ...(deps.now === undefined ? {} : { now: deps.now }),
    onUnreadable: (tenantId, err) => log.warn({ tenantId, err: errorMessage(err) }, 'verify token unreadable'),
  })
  const mappings = createMappingResolver({ sql, cache, localTtlMs: 5000 })
  const toucher = createActivityToucher(sql, {
    flushMs: 1000,
    onError: (err) => cacheLog.warn({ err: String(err) }, 'activity flush failed'),
  })
  const batch = { maxSize: 500, maxWaitMs: config.dbClaimLingerMs }
  const claimer = createClaimer(sql, batch)
  const tracking = durableTracking(createTrackingWriter(sql, { ...batch, maxWaitMs: config.dbOutcomeLingerMs }), {
    log: log.child({ component: 'tracking' }),
  })
  const settlement = createSettlementStore(sql, batch)

  const store = traceStore(createObjectStore(config.s3))
  await store.ensureBuckets([...ALL_BUCKETS]).catch((err: unknown) => {
    // S3 away at start must not stop messages: the archive and media paths retry on their own.
    log.warn({ err: String(err) }, 'object storage unavailable at start; archive and media will retry')
  })
  const genesys = instrumentGenesysApi(createGenesysApi(config.genesys, directory), metrics)
  // Every download the bridge makes goes through this one fetcher and its policy.
  const budget = createByteBudget(config.fetch.mediaBytesInFlight)
  const fetcher = traceFetcher(
    createMediaFetcher({
      connectTimeoutMs: 5_000,
      headersTimeoutMs: config.genesys.timeoutMs,
      bodyTimeoutMs: config.genesys.timeoutMs,
      totalTimeoutMs: config.fetch.timeoutMs,
      budget,
      insecureOrigins: new Set(config.fetch.insecureOrigins),
      onRefused: (reason) => metrics.fetchRefusals.inc({ reason }),
      ...(deps.resolve === undefined ? {} : { resolve: deps.resolve }),
    }),
  )
  const hosts = { extraHosts: config.fetch.allowedHosts, insecureOrigins: config.fetch.insecureOrigins }
  const media = createMediaRehost({
    store,
    genesys,
    fetcher,
    budget,
    maxBytes: config.processing.mediaMaxBytes,
    hosts,
    genesysApiUrl: config.genesys.apiUrl,
    now: Date.now,
  })
  // Timed per call: gwb_external_request_duration_seconds{target,operation,status}.
  const meta = instrumentMetaClient(
    createMetaClient({
      graphUrl: config.meta.graphUrl,
      apiVersion: config.meta.apiVersion,
      connections: config.meta.connections,
      headersTimeoutMs: config.meta.timeoutMs,
      bodyTimeoutMs: config.meta.timeoutMs,
      downloadMedia: metaMediaDownload(fetcher, {
        mediaHosts: config.fetch.metaMediaHosts,
        graphUrl: config.meta.graphUrl,
        hosts,
      }),
    }),
    metrics,
  )

  const sendRate = createSendRateLimiter({
    redis,
    ratePerSecond: config.meta.sendRatePerNumber,
    burst: config.meta.sendBurstPerNumber,
    onFallback: () => metrics.sendRateFallbacks.inc(),
  })

  return {
    config,
    log,
    metrics,
    kafka,
    records,
    codec,
    producer,
    sql,
    redis,
    directory,
    mappings,
    toucher,
    claimer,
    tracking,
    settlement,
    store,
    meta,
    genesys,
    media,
    sendRate,
    async close() {
      await producer.close()
      await Promise.allSettled([claimer.drain(), tracking.drain(), toucher.close()])
      await Promise.allSettled([meta.close(), genesys.close(), fetcher.close()])
      store.close()
      await cache.close()
      redis.disconnect()
      await closeDb(sql)
    },
  }
}
