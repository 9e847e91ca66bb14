import { BridgeError } from '../errors.js'
import { parseTrustedProxies, type TrustedProxies } from '../ingest/client-address.js'
import { readKafkaSecurity, type KafkaSecurity } from './kafka-security.js'
import { normaliseHostEntry } from '../processors/fetch-policy.js'
import { EnvReader, type Env } from './parse-env.js'
import {
  readDatabaseTls,
  readRedisTlsCa,
  readRegistryAuth,
  type DatabaseTls,
  type RegistryAuth,
} from './service-auth.js'
import { readS3Layout, type S3Layout } from './s3-layout.js'
import { tracingConfig, type TracingConfig } from './tracing-config.js'

export type { TracingConfig }

export const roles = ['ingest', 'outbound', 'inbound', 'status', 'archive'] as const
export type Role = (typeof roles)[number]

export interface TopicNames {
  readonly genesysOutbound: string
  readonly whatsappInbound: string
  readonly whatsappStatus: string
  /** Whole Meta webhook bodies, for the archive (the split topics carry one item each). */
  readonly whatsappRaw: string
  readonly errors: string
}

/** The variables that say where the servers are and how to log in to them (scripts/services.sh env). */
export const serverVariables = [
  'KAFKA_BROKERS',
  'SCHEMA_REGISTRY_URL',
  'DATABASE_URL',
  'REDIS_URL',
  'S3_ENDPOINT',
  'S3_ACCESS_KEY',
  'S3_SECRET_KEY',
] as const

/** The Kafka clients that can carry the records (KAFKA_CLIENT); admin work is kafkajs's either way. */
export const kafkaClients = ['kafkajs', 'platformatic'] as const
export type KafkaClientName = (typeof kafkaClients)[number]
export const defaultKafkaClient: KafkaClientName = 'platformatic'

/** What a process may set up at start; `gwb setup` does all three ahead of a least-privilege rollout. */
export const setupSteps = ['migrations', 'schemas', 'topics'] as const
export type SetupStep = (typeof setupSteps)[number]

export interface Config {
  readonly roles: readonly Role[]
  readonly startSetup: Readonly<Record<SetupStep, boolean>>
  readonly tracing: TracingConfig
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'
  readonly http: {
    readonly host: string
    readonly port: number
    readonly maxBodyBytes: number
    /** Requests per second per source address (0 = no limit); a platform's retries fit well inside. */
    readonly ratePerSource: number
    readonly burstPerSource: number
    readonly bodyTimeoutMs: number
    readonly headersTimeoutMs: number
    readonly keepAliveTimeoutMs: number
    /** Bytes of request bodies held at once by this process; beyond it 503 + Retry-After. */
    readonly maxInFlightBytes: number
    /** Whose X-Forwarded-For the rate limit believes (CIDR ranges). */
    readonly trustedProxies: TrustedProxies
    readonly trustedProxyList: readonly string[]
  }
  /** /metrics, /ready and /health for probes and scrapers, apart from the public webhook port. */
  readonly admin: {
    readonly host: string
    readonly port: number
  }
  /** On SIGTERM: how long /ready answers 503 before the public listener closes. */
  readonly shutdownDrainMs: number
  readonly kafka: {
    readonly brokers: readonly string[]
    readonly clientId: string
    /** The client of every produce and consumer group of the flows. */
    readonly client: KafkaClientName
    readonly groupPrefix: string
    readonly partitions: number
    readonly replicationFactor: number
    /** Set on the topics the bridge creates: acks=all then needs this many replicas in sync. */
    readonly minInsyncReplicas: number
    readonly topics: TopicNames
    readonly produceLingerMs: number
    /** Produce compression (kafkajs has gzip built in; snappy/lz4/zstd need codec packages). */
    readonly compression: 'none' | 'gzip'
    /** Most bytes one fetch takes from a partition (kafkajs maxBytesPerPartition). */
    readonly fetchBytesPerPartition: number
    /** The broker answers a fetch once it has this many bytes, or after fetchMaxWaitMs (Kafka fetch.min.bytes). */
    readonly fetchMinBytes: number
    /** Longest a fetch waits at the broker for fetchMinBytes (Kafka fetch.max.wait.ms). */
    readonly fetchMaxWaitMs: number
    /**
     * The same for the archive's groups, which no message waits on: fuller fetches, fewer of them
     * (each kafkajs fetch costs about a millisecond of CPU however few records it brings).
     */
    readonly archiveFetchMinBytes: number
    readonly archiveFetchMaxWaitMs: number
    readonly security: KafkaSecurity
  }
  readonly registryUrl: string
  readonly registryAuth: RegistryAuth | undefined
  readonly databaseUrl: string
  readonly databaseTls: DatabaseTls
  readonly dbPoolMax: number
  /** How long a claim statement gathers other messages' claims before it goes out (every message waits for it). */
  readonly dbClaimLingerMs: number
  /** The same for outcome statements (sent, failed…), which no message waits on before its send. */
  readonly dbOutcomeLingerMs: number
  readonly redisUrl: string
  readonly redisTlsCa: Buffer | undefined
  readonly s3: {
    readonly endpoint: string
    /** Static keys; both absent = the AWS credential chain (web identity token file, then instance role). */
    readonly accessKey: string | undefined
    readonly secretKey: string | undefined
    readonly sessionToken: string | undefined
    readonly region: string
    readonly retentionDays: number
    readonly layout: S3Layout
  }
  readonly credentialsKey: Buffer
  /** Keys that may still open stored credentials during a key rotation (never used to seal). */
  readonly credentialsKeysPrevious: readonly Buffer[]
  readonly meta: {
    readonly graphUrl: string
    readonly apiVersion: string
    readonly connections: number
    readonly timeoutMs: number
    /** Sends per second per business phone number, shared by every process (Meta's default is 80). */
    readonly sendRatePerNumber: number
    readonly sendBurstPerNumber: number
    /**
     * Settlement of sends with an unknown outcome (issue 12): how long after its claim a send waits
     * for a status naming it before it is resent once. At least twice META_TIMEOUT_MS, so a live
     * owner's send is never taken for resend.
     */
    readonly reconcileWindowMs: number
    /** After a 130429 the number's shared rate is halved (down to 1/16) for this long. */
    readonly rateSlowdownMs: number
    /** Cap of the wait before retrying a customer after repeated 131056 (4^n s, at least 6 s). */
    readonly pairRetryMaxMs: number
  }
  readonly genesys: {
    /** Overrides the per-region https://api.<domain> for every tenant (proxies, fakes). */
    readonly apiUrl: string | undefined
    readonly loginUrl: string | undefined
    readonly connections: number
    readonly timeoutMs: number
  }
  readonly processing: {
    readonly concurrency: number
    /** 0: no attempt limit; a retryable failure is retried until retryMaxDurationMs. */
    readonly maxAttempts: number
    readonly retryBaseMs: number
    readonly retryMaxMs: number
    /** How long a record with a transient failure is retried (its conversation waiting) before dead-lettering. */
    readonly retryMaxDurationMs: number
    /** Backoff cap while infrastructure is down (the offset is held until it answers). */
    readonly unknownErrorMaxMs: number
    readonly mediaMaxBytes: number
    /**
     * Days a used resend token is kept: a copy of its resend record read after that would send the
     * message again, so it must outlast the outbound topic's retention (docs/reliability.md).
     */
    readonly resendTokenRetentionDays: number
    /**
     * Days a tracking row in a final state is kept after its creation. The row is what recognises a
     * redelivered or replayed webhook, so at least the archive's retention (and Meta's 7-day retries).
     */
    readonly trackingRetentionDays: number
  }
  /** The outbound fetch policy of every download (docs/security.md, "Downloads"). */
  readonly fetch: {
    /** `host:port` any tenant's downloads may also reach over https (never given a token). */
    readonly allowedHosts: readonly string[]
    /** `host:port` of the sandbox's and tests' fakes: http allowed, address not checked. */
    readonly insecureOrigins: readonly string[]
    /** `host:port` of Meta's media URLs; the WhatsApp token goes to these and the Graph host only. */
    readonly metaMediaHosts: readonly string[]
    /** One download, redirects included. */
    readonly timeoutMs: number
    /** Bytes of media downloads and stores in flight per process. */
    readonly mediaBytesInFlight: number
  }
}

const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const

/** Topic names are stable; a prefix lets tests and side-by-side installs keep their own. */
export function topicNames(prefix: string): TopicNames {
  return Object.freeze({
    genesysOutbound: `${prefix}genesys-outbound`,
    whatsappInbound: `${prefix}whatsapp-inbound`,
    whatsappStatus: `${prefix}whatsapp-status`,
    whatsappRaw: `${prefix}whatsapp-webhooks-raw`,
    errors: `${prefix}bridge-errors`,
  })
}

export const deadLetterTopic = (topic: string): string => `${topic}.dlq`

function deepFreeze<T>(o: T): T {
  if (o !== null && typeof o === 'object' && !Buffer.isBuffer(o)) {
    for (const v of Object.values(o)) deepFreeze(v)
    Object.freeze(o)
  }
  return o
}

function startSetup(steps: readonly (SetupStep | 'none')[]): Record<SetupStep, boolean> {
  const on = (step: SetupStep): boolean => steps.includes(step) && !steps.includes('none')
  return { migrations: on('migrations'), schemas: on('schemas'), topics: on('topics') }
}

/** Static S3 keys come as a pair; with neither, the client asks the AWS credential chain. */
function readS3Keys(r: EnvReader): {
  accessKey: string | undefined
  secretKey: string | undefined
  sessionToken: string | undefined
} {
  const accessKey = r.optionalString('S3_ACCESS_KEY')
  const secretKey = r.optionalString('S3_SECRET_KEY')
  if ((accessKey === undefined) !== (secretKey === undefined)) {
    r.allOf('static S3 credentials (leave both unset for the AWS credential chain)', ['S3_ACCESS_KEY', 'S3_SECRET_KEY'])
  }
  return { accessKey, secretKey, sessionToken: r.optionalString('S3_SESSION_TOKEN') }
}

/** A comma list of `host` or `host:port` (`host:port` only when the port is required), normalised. */
function hostList(r: EnvReader, name: string, fallback: string, requirePort: boolean): string[] {
  const items = (r.optionalString(name) ?? fallback)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
  const out: string[] = []
  for (const item of items) {
    const key = normaliseHostEntry(item, requirePort)
    if (key === undefined)
      r.problems.push(`${name}: "${item}" is not ${requirePort ? 'host:port' : 'host or host:port'}`)
    else out.push(key)
  }
  return out
}

/** Parsed once at start; the only reader of the environment is the entry point that calls this. */
export function loadConfig(env: Env): Config {
  const r = new EnvReader(env)
  const prefix = r.optionalString('TOPIC_PREFIX') ?? ''
  if (!/^[A-Za-z0-9._-]*$/.test(prefix)) r.problems.push(`TOPIC_PREFIX may hold only letters, digits, ".", "_" and "-"`)
  const httpHost = r.string('HTTP_HOST', '0.0.0.0')
  const trustedList = (r.optionalString('TRUSTED_PROXIES') ?? '')
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x !== '')
  const trusted = parseTrustedProxies(trustedList)
  r.problems.push(...trusted.problems)
  const replicationFactor = r.int('TOPIC_REPLICATION_FACTOR', 1, 1, 10)
  const archiveRetentionDays = r.int('RETENTION_DAYS', 30, 1, 3650)
  const databaseUrl = r.url('DATABASE_URL', 'postgres://postgres@127.0.0.1:5432/gwb', ['postgres:', 'postgresql:'])
  const redisUrl = r.url('REDIS_URL', 'redis://127.0.0.1:6379/0', ['redis:', 'rediss:'])
  const config: Config = {
    roles: r.list('ROLES', roles, [...roles, 'all'] as const).flatMap((x) => (x === 'all' ? roles : [x])),
    logLevel: r.oneOf('LOG_LEVEL', 'info', logLevels),
    tracing: tracingConfig(r),
    startSetup: startSetup(r.list('START_SETUP', setupSteps, [...setupSteps, 'none'] as const)),
    http: {
      host: httpHost,
      port: r.int('HTTP_PORT', 3000, 0, 65535),
      maxBodyBytes: r.int('HTTP_MAX_BODY_BYTES', 4 * 1024 * 1024, 1024, 64 * 1024 * 1024),
      ratePerSource: r.int('INGEST_RATE_PER_SOURCE', 10_000, 0, 1_000_000),
      burstPerSource: r.int('INGEST_BURST_PER_SOURCE', 20_000, 1, 10_000_000),
      bodyTimeoutMs: r.int('HTTP_BODY_TIMEOUT_MS', 30_000, 100, 600_000),
      headersTimeoutMs: r.int('HTTP_HEADERS_TIMEOUT_MS', 10_000, 100, 600_000),
      keepAliveTimeoutMs: r.int('HTTP_KEEP_ALIVE_TIMEOUT_MS', 65_000, 1000, 3_600_000),
      maxInFlightBytes: r.int('INGEST_MAX_INFLIGHT_BYTES', 64 * 1024 * 1024, 1024, 16 * 1024 * 1024 * 1024),
      trustedProxies: trusted.proxies,
      trustedProxyList: trustedList,
    },
    admin: {
      host: r.string('ADMIN_HOST', httpHost),
      port: r.int('ADMIN_PORT', 9464, 0, 65535),
    },
    shutdownDrainMs: r.int('SHUTDOWN_DRAIN_MS', 5000, 0, 600_000),
    kafka: {
      brokers: r.brokers('KAFKA_BROKERS', '127.0.0.1:9092'),
      clientId: r.string('KAFKA_CLIENT_ID', 'genesys-whatsapp-bridge'),
      client: r.oneOf('KAFKA_CLIENT', defaultKafkaClient, kafkaClients),
      groupPrefix: r.string('KAFKA_GROUP_PREFIX', `${prefix}gwb-`),
      partitions: r.int('TOPIC_PARTITIONS', 12, 1, 10_000),
      replicationFactor,
      minInsyncReplicas: r.int('TOPIC_MIN_INSYNC_REPLICAS', Math.min(2, replicationFactor), 1, replicationFactor),
      topics: topicNames(prefix),
      produceLingerMs: r.int('KAFKA_PRODUCE_LINGER_MS', 2, 0, 1000),
      // Throughput tuning a user would try; measured in BENCHMARKS.md (levers of issue 15).
      compression: r.oneOf('KAFKA_COMPRESSION', 'none', ['none', 'gzip'] as const),
      fetchBytesPerPartition: r.int('KAFKA_FETCH_BYTES_PER_PARTITION', 256 * 1024, 1024, 64 * 1024 * 1024),
      fetchMinBytes: r.int('KAFKA_FETCH_MIN_BYTES', 1, 1, 64 * 1024 * 1024),
      fetchMaxWaitMs: r.int('KAFKA_FETCH_MAX_WAIT_MS', 50, 1, 10_000),
      archiveFetchMinBytes: r.int('ARCHIVE_FETCH_MIN_BYTES', 256 * 1024, 1, 64 * 1024 * 1024),
      archiveFetchMaxWaitMs: r.int('ARCHIVE_FETCH_MAX_WAIT_MS', 250, 1, 10_000),
      security: readKafkaSecurity(r),
    },
    registryUrl: r.url('SCHEMA_REGISTRY_URL', 'http://127.0.0.1:8081/apis/ccompat/v7', ['http:', 'https:']),
    registryAuth: readRegistryAuth(r),
    databaseUrl,
    databaseTls: readDatabaseTls(r, databaseUrl),
    dbPoolMax: r.int('DB_POOL_MAX', 10, 1, 200),
    dbClaimLingerMs: r.int('DB_CLAIM_LINGER_MS', 2, 0, 1000),
    dbOutcomeLingerMs: r.int('DB_OUTCOME_LINGER_MS', 20, 0, 1000),
    redisUrl,
    redisTlsCa: readRedisTlsCa(r, redisUrl),
    s3: {
      endpoint: r.url('S3_ENDPOINT', 'http://127.0.0.1:9000', ['http:', 'https:']),
      ...readS3Keys(r),
      region: r.string('S3_REGION', 'us-east-1'),
      retentionDays: archiveRetentionDays,
      layout: readS3Layout(r),
    },
    credentialsKey: r.base64Key('CREDENTIALS_KEY', 32),
    credentialsKeysPrevious: r.base64Keys('CREDENTIALS_KEY_PREVIOUS', 32),
    meta: {
      graphUrl: r.url('META_GRAPH_URL', 'https://graph.facebook.com', ['http:', 'https:']),
      apiVersion: r.string('META_API_VERSION', 'v21.0'),
      connections: r.int('META_CONNECTIONS', 512, 1, 4096),
      timeoutMs: r.int('META_TIMEOUT_MS', 10_000, 100, 120_000),
      sendRatePerNumber: r.int('META_SEND_RATE_PER_NUMBER', 80, 1, 100_000),
      sendBurstPerNumber: r.int('META_SEND_BURST_PER_NUMBER', 80, 1, 100_000),
      reconcileWindowMs: r.int('RECONCILE_WINDOW_MS', 60_000, 1000, 24 * 3600_000),
      rateSlowdownMs: r.int('META_RATE_SLOWDOWN_MS', 60_000, 0, 3_600_000),
      pairRetryMaxMs: r.int('META_PAIR_RETRY_MAX_MS', 300_000, 6_000, 3_600_000),
    },
    genesys: {
      apiUrl:
        env['GENESYS_API_URL'] === undefined ? undefined : r.url('GENESYS_API_URL', undefined, ['http:', 'https:']),
      loginUrl:
        env['GENESYS_LOGIN_URL'] === undefined ? undefined : r.url('GENESYS_LOGIN_URL', undefined, ['http:', 'https:']),
      connections: r.int('GENESYS_CONNECTIONS', 32, 1, 1024),
      timeoutMs: r.int('GENESYS_TIMEOUT_MS', 10_000, 100, 120_000),
    },
    processing: {
      concurrency: r.int('PROCESSING_CONCURRENCY', 2048, 1, 20_000),
      // Retries are bounded by time (an outage of a few minutes must not dead-letter a conversation);
      // MAX_ATTEMPTS remains as an optional extra cap.
      maxAttempts: r.int('MAX_ATTEMPTS', 0, 0, 1000),
      retryBaseMs: r.int('RETRY_BASE_MS', 500, 1, 600_000),
      retryMaxMs: r.int('RETRY_MAX_MS', 30_000, 1, 3_600_000),
      retryMaxDurationMs: r.int('RETRY_MAX_DURATION_MS', 600_000, 0, 7 * 86_400_000),
      unknownErrorMaxMs: r.int('UNKNOWN_ERROR_RETRY_MAX_MS', 10_000, 1, 3_600_000),
      mediaMaxBytes: r.int('MEDIA_MAX_BYTES', 25 * 1024 * 1024, 1024, 200 * 1024 * 1024),
      // At least 7 days: Kafka's default topic retention and Meta's longest webhook retry (facts §4.3).
      resendTokenRetentionDays: r.int('RESEND_TOKEN_RETENTION_DAYS', 30, 7, 3650),
      // Never below the archive's: a replayed webhook is recognised by its tracking row.
      trackingRetentionDays: r.int(
        'TRACKING_RETENTION_DAYS',
        Math.max(30, archiveRetentionDays),
        Math.max(7, archiveRetentionDays),
        3650,
      ),
    },
    fetch: {
      allowedHosts: hostList(r, 'FETCH_ALLOWED_HOSTS', '', false),
      insecureOrigins: hostList(r, 'FETCH_INSECURE_ORIGINS', '', true),
      metaMediaHosts: hostList(r, 'META_MEDIA_HOSTS', 'lookaside.fbsbx.com', false),
      timeoutMs: r.int('FETCH_TIMEOUT_MS', 60_000, 100, 600_000),
      mediaBytesInFlight: r.int('MEDIA_BYTES_IN_FLIGHT', 512 * 1024 * 1024, 1024, 64 * 1024 * 1024 * 1024),
    },
  }
  if (config.meta.apiVersion !== '' && !/^v\d+\.\d+$/.test(config.meta.apiVersion)) {
    r.problems.push(`META_API_VERSION must look like v21.0, got "${config.meta.apiVersion}"`)
  }
  if (config.meta.reconcileWindowMs < 2 * config.meta.timeoutMs) {
    r.problems.push(
      `RECONCILE_WINDOW_MS (${config.meta.reconcileWindowMs}) must be at least twice META_TIMEOUT_MS (${config.meta.timeoutMs})`,
    )
  }
  if (config.http.maxInFlightBytes < config.http.maxBodyBytes) {
    r.problems.push('INGEST_MAX_INFLIGHT_BYTES must be at least HTTP_MAX_BODY_BYTES (one largest body must fit)')
  }
  if (config.admin.port !== 0 && config.admin.port === config.http.port) {
    r.problems.push('ADMIN_PORT must differ from HTTP_PORT (0 picks a free port for either)')
  }
  if (r.problems.length > 0) {
    throw new BridgeError('GWB_CONFIG', `invalid configuration:\n  - ${r.problems.join('\n  - ')}`, {
      details: { problems: r.problems },
    })
  }
  return deepFreeze(config)
}
