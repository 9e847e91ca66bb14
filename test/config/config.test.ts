import t from 'tap'
import { loadConfig } from '../../src/config/config.js'
import { s3Location } from '../../src/config/s3-layout.js'
import { BUCKETS } from '../../src/processors/object-keys.js'
import { configProblems, minimalEnv } from '../helpers/config-env.js'

t.test('defaults apply and the object is frozen all the way down', async (t) => {
  const c = loadConfig(minimalEnv)
  t.same(c.roles, ['ingest', 'outbound', 'inbound', 'status', 'archive'])
  t.same(c.kafka.brokers, ['127.0.0.1:9092'])
  t.equal(c.processing.maxAttempts, 0, 'no attempt cap by default: retries are bounded by time')
  t.equal(c.processing.retryMaxDurationMs, 600_000)
  t.equal(c.kafka.topics.genesysOutbound, 'genesys-outbound')
  t.ok(Object.isFrozen(c) && Object.isFrozen(c.kafka) && Object.isFrozen(c.kafka.topics))
  t.equal(c.credentialsKey.length, 32)
})

t.test('a missing variable stops the start with a message naming it', async (t) => {
  // An empty value counts as unset.
  const msg = configProblems({ CREDENTIALS_KEY: '' })
  t.match(msg, /CREDENTIALS_KEY is required/)
})

t.test('every wrong value is reported at once, each naming its variable and what is expected', async (t) => {
  const msg = configProblems({
    ...minimalEnv,
    HTTP_PORT: 'eighty',
    ROLES: 'ingest,sender',
    KAFKA_BROKERS: 'localhost',
    CREDENTIALS_KEY: 'c2hvcnQ=',
    META_GRAPH_URL: 'ftp://x',
    META_API_VERSION: '21',
  })
  t.match(msg, /HTTP_PORT must be an integer from 0 to 65535, got "eighty"/)
  t.match(msg, /ROLES must be a comma list of ingest, outbound, inbound, status, archive, all/)
  t.match(msg, /KAFKA_BROKERS must be host:port/)
  t.match(msg, /CREDENTIALS_KEY must decode from base64 to exactly 32 bytes, got 5/)
  t.match(msg, /META_GRAPH_URL must use http: or https:/)
  t.match(msg, /META_API_VERSION must look like v21.0/)
})

t.test('roles and topic prefix are honoured', async (t) => {
  const c = loadConfig({ ...minimalEnv, ROLES: 'outbound,status', TOPIC_PREFIX: 't1-' })
  t.same(c.roles, ['outbound', 'status'])
  t.equal(c.kafka.topics.whatsappStatus, 't1-whatsapp-status')
  t.equal(c.kafka.groupPrefix, 't1-gwb-')
  t.match(configProblems({ ...minimalEnv, TOPIC_PREFIX: 'a/b' }), /TOPIC_PREFIX/)
})

t.test('CREDENTIALS_KEY_PREVIOUS: none by default, a comma list of 32-byte keys, each checked', async (t) => {
  t.same(loadConfig(minimalEnv).credentialsKeysPrevious, [])
  const a = Buffer.alloc(32, 1)
  const b = Buffer.alloc(32, 2)
  const c = loadConfig({ ...minimalEnv, CREDENTIALS_KEY_PREVIOUS: ` ${a.toString('base64')} ,${b.toString('base64')}` })
  t.same(c.credentialsKeysPrevious, [a, b])
  t.ok(Object.isFrozen(c.credentialsKeysPrevious))
  t.match(
    configProblems({ ...minimalEnv, CREDENTIALS_KEY_PREVIOUS: `${a.toString('base64')},c2hvcnQ=` }),
    /CREDENTIALS_KEY_PREVIOUS: key 2 must decode from base64 to exactly 32 bytes, got 5/,
  )
})

t.test('START_SETUP switches each start-time setup step; none turns all off', async (t) => {
  t.same(loadConfig(minimalEnv).startSetup, { migrations: true, schemas: true, topics: true }, 'all on by default')
  t.same(loadConfig({ ...minimalEnv, START_SETUP: 'none' }).startSetup, {
    migrations: false,
    schemas: false,
    topics: false,
  })
  t.same(loadConfig({ ...minimalEnv, START_SETUP: 'schemas,topics' }).startSetup, {
    migrations: false,
    schemas: true,
    topics: true,
  })
  t.match(configProblems({ ...minimalEnv, START_SETUP: 'migrations,tables' }), /START_SETUP must be a comma list of/)
})

t.test('S3_BUCKET_PREFIX names the buckets of an installation; a name S3 refuses is refused at start', async (t) => {
  t.same(loadConfig(minimalEnv).s3.layout, { kind: 'buckets', bucketPrefix: '' })
  const layout = loadConfig({ ...minimalEnv, S3_BUCKET_PREFIX: 'gwb-test-' }).s3.layout
  t.same(s3Location(layout, BUCKETS.mediaInbound), { bucket: 'gwb-test-media-inbound', prefix: '' })
  t.match(configProblems({ ...minimalEnv, S3_BUCKET_PREFIX: 'Tests_' }), /S3_BUCKET_PREFIX may hold lower-case/)
})

t.test('fetch policy hosts are normalised; a bad entry is named', async (t) => {
  const c = loadConfig({
    ...minimalEnv,
    FETCH_ALLOWED_HOSTS: 'Files.Example.com, cdn.example.com.:8443,[2001:db8::1]',
    FETCH_INSECURE_ORIGINS: '127.0.0.1:4010',
  })
  t.same(c.fetch.allowedHosts, ['files.example.com:443', 'cdn.example.com:8443', '[2001:db8::1]:443'])
  t.same(c.fetch.insecureOrigins, ['127.0.0.1:4010'])
  t.same(c.fetch.metaMediaHosts, ['lookaside.fbsbx.com:443'], 'Meta media host by default')
  t.same(loadConfig(minimalEnv).fetch.insecureOrigins, [], 'nothing insecure by default')
  const msg = configProblems({
    ...minimalEnv,
    FETCH_INSECURE_ORIGINS: 'localhost',
    FETCH_ALLOWED_HOSTS: 'https://x.example.com/,user@host',
  })
  t.match(msg, /FETCH_INSECURE_ORIGINS: "localhost" is not host:port/)
  t.match(msg, /FETCH_ALLOWED_HOSTS: "https:\/\/x.example.com\/" is not host or host:port/)
  t.match(msg, /FETCH_ALLOWED_HOSTS: "user@host"/)
})

t.test('Kafka tuning: compression and fetch size, defaults as measured, bad values named', async (t) => {
  const d = loadConfig(minimalEnv)
  t.equal(d.kafka.compression, 'none')
  t.equal(d.kafka.fetchBytesPerPartition, 262_144)
  const c = loadConfig({ ...minimalEnv, KAFKA_COMPRESSION: 'gzip', KAFKA_FETCH_BYTES_PER_PARTITION: '1048576' })
  t.equal(c.kafka.compression, 'gzip')
  t.equal(c.kafka.fetchBytesPerPartition, 1_048_576)
  const msg = configProblems({ ...minimalEnv, KAFKA_COMPRESSION: 'zstd', KAFKA_FETCH_BYTES_PER_PARTITION: '10' })
  t.match(msg, /KAFKA_COMPRESSION/)
  t.match(msg, /KAFKA_FETCH_BYTES_PER_PARTITION must be an integer from 1024/)
})

t.test('Kafka client and database lingers: defaults as measured, bad values named', async (t) => {
  const d = loadConfig(minimalEnv)
  t.equal(d.kafka.client, 'platformatic')
  t.equal(d.dbClaimLingerMs, 2)
  t.equal(d.dbOutcomeLingerMs, 20)
  const c = loadConfig({ ...minimalEnv, KAFKA_CLIENT: 'kafkajs', DB_CLAIM_LINGER_MS: '5', DB_OUTCOME_LINGER_MS: '0' })
  t.equal(c.kafka.client, 'kafkajs')
  t.equal(c.dbClaimLingerMs, 5)
  t.equal(c.dbOutcomeLingerMs, 0)
  const msg = configProblems({ ...minimalEnv, KAFKA_CLIENT: 'librdkafka', DB_OUTCOME_LINGER_MS: '-1' })
  t.match(msg, /KAFKA_CLIENT/)
  t.match(msg, /librdkafka/)
  t.match(msg, /DB_OUTCOME_LINGER_MS must be an integer from 0/)
})

t.test('Kafka fetch batching: min bytes and max wait, defaults as measured, bad values named', async (t) => {
  const d = loadConfig(minimalEnv)
  t.equal(d.kafka.fetchMinBytes, 1)
  t.equal(d.kafka.fetchMaxWaitMs, 50)
  t.equal(d.kafka.archiveFetchMinBytes, 262_144)
  t.equal(d.kafka.archiveFetchMaxWaitMs, 250)
  const c = loadConfig({
    ...minimalEnv,
    KAFKA_FETCH_MIN_BYTES: '65536',
    KAFKA_FETCH_MAX_WAIT_MS: '20',
    ARCHIVE_FETCH_MIN_BYTES: '1048576',
    ARCHIVE_FETCH_MAX_WAIT_MS: '1000',
  })
  t.equal(c.kafka.fetchMinBytes, 65_536)
  t.equal(c.kafka.fetchMaxWaitMs, 20)
  t.equal(c.kafka.archiveFetchMinBytes, 1_048_576)
  t.equal(c.kafka.archiveFetchMaxWaitMs, 1000)
  const msg = configProblems({ ...minimalEnv, KAFKA_FETCH_MIN_BYTES: '0', KAFKA_FETCH_MAX_WAIT_MS: 'soon' })
  t.match(msg, /KAFKA_FETCH_MIN_BYTES must be an integer from 1/)
  t.match(msg, /KAFKA_FETCH_MAX_WAIT_MS must be an integer from 1/)
})

t.test('RESEND_TOKEN_RETENTION_DAYS: 30 by default, at least 7 (the topic retention and Meta retries)', async (t) => {
  t.equal(loadConfig(minimalEnv).processing.resendTokenRetentionDays, 30)
  t.equal(loadConfig({ ...minimalEnv, RESEND_TOKEN_RETENTION_DAYS: '90' }).processing.resendTokenRetentionDays, 90)
  t.match(
    configProblems({ ...minimalEnv, RESEND_TOKEN_RETENTION_DAYS: '3' }),
    /RESEND_TOKEN_RETENTION_DAYS must be an integer from 7 to 3650, got "3"/,
  )
})

t.test('TRACKING_RETENTION_DAYS: 30 by default, never below the archive retention', async (t) => {
  t.equal(loadConfig(minimalEnv).processing.trackingRetentionDays, 30)
  t.equal(
    loadConfig({ ...minimalEnv, RETENTION_DAYS: '90' }).processing.trackingRetentionDays,
    90,
    'follows a longer archive',
  )
  t.equal(loadConfig({ ...minimalEnv, TRACKING_RETENTION_DAYS: '400' }).processing.trackingRetentionDays, 400)
  t.match(
    configProblems({ ...minimalEnv, RETENTION_DAYS: '60', TRACKING_RETENTION_DAYS: '45' }),
    /TRACKING_RETENTION_DAYS must be an integer from 60 to 3650, got "45"/,
  )
  t.match(
    configProblems({ ...minimalEnv, TRACKING_RETENTION_DAYS: '3' }),
    /TRACKING_RETENTION_DAYS must be an integer from 30/,
  )
})
