import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { loadConfig } from '../../src/config/config.js'
import { s3Location } from '../../src/config/s3-layout.js'
import { postgresTls } from '../../src/sinks/db/client.js'
import { registryAuthorization } from '../../src/sinks/schema-registry.js'
import { configProblems, minimalEnv } from '../helpers/config-env.js'

const dir = mkdtempSync(join(tmpdir(), 'gwb-svc-auth-'))
const ca = join(dir, 'ca.pem')
writeFileSync(ca, 'CA')
const load = (env: Record<string, string>) => loadConfig({ ...minimalEnv, ...env })

t.test('schema registry: basic auth, bearer, or none; never both, never half', async (t) => {
  t.equal(load({}).registryAuth, undefined)
  const basic = load({ SCHEMA_REGISTRY_USERNAME: 'KEY', SCHEMA_REGISTRY_PASSWORD: 'SECRET' }).registryAuth
  t.same(basic, { kind: 'basic', username: 'KEY', password: 'SECRET' })
  t.equal(registryAuthorization(basic), `Basic ${Buffer.from('KEY:SECRET').toString('base64')}`)
  const bearer = load({ SCHEMA_REGISTRY_TOKEN: 'tok' }).registryAuth
  t.equal(registryAuthorization(bearer), 'Bearer tok')
  t.match(
    configProblems({ SCHEMA_REGISTRY_USERNAME: 'KEY' }),
    /needs SCHEMA_REGISTRY_USERNAME and SCHEMA_REGISTRY_PASSWORD \(missing: SCHEMA_REGISTRY_PASSWORD\)/,
  )
  t.match(
    configProblems({ SCHEMA_REGISTRY_TOKEN: 't', SCHEMA_REGISTRY_PASSWORD: 'p' }),
    /two kinds of credentials; set one/,
  )
})

t.test('PostgreSQL TLS: sslmode from DATABASE_SSLMODE or the URL, a CA only with verification', async (t) => {
  t.same(load({}).databaseTls, { mode: 'disable', ca: undefined })
  t.equal(postgresTls(load({}).databaseTls), false)
  t.equal(
    load({ DATABASE_URL: 'postgres://u@db.example:5432/gwb?sslmode=verify-full' }).databaseTls.mode,
    'verify-full',
  )
  const full = load({ DATABASE_SSLMODE: 'verify-full', DATABASE_SSL_CA_FILE: ca }).databaseTls
  t.same(postgresTls(full), { ca: [Buffer.from('CA')], rejectUnauthorized: true })
  const verifyCa = postgresTls(load({ DATABASE_SSLMODE: 'verify-ca', DATABASE_SSL_CA_FILE: ca }).databaseTls)
  t.equal(
    verifyCa !== false && verifyCa.checkServerIdentity?.('db', {} as never),
    undefined,
    'verify-ca skips the host name only',
  )
  t.same(postgresTls(load({ DATABASE_SSLMODE: 'require' }).databaseTls), { rejectUnauthorized: false })
  t.match(
    configProblems({ DATABASE_SSLMODE: 'prefer' }),
    /DATABASE_SSLMODE must be one of disable, require, verify-ca, verify-full/,
  )
  t.match(
    configProblems({ DATABASE_SSLMODE: 'require', DATABASE_SSL_CA_FILE: ca }),
    /DATABASE_SSL_CA_FILE is only used with DATABASE_SSLMODE=verify-ca or verify-full/,
  )
})

t.test('Redis TLS: rediss:// and an optional CA', async (t) => {
  t.equal(load({ REDIS_URL: 'rediss://cache.example:6380/0', REDIS_TLS_CA_FILE: ca }).redisTlsCa?.toString(), 'CA')
  t.match(configProblems({ REDIS_TLS_CA_FILE: ca }), /REDIS_TLS_CA_FILE needs a rediss:\/\/ REDIS_URL/)
})

t.test('S3: static keys optional as a pair; buckets by prefix or one bucket with key prefixes', async (t) => {
  const chain = loadConfig({ CREDENTIALS_KEY: minimalEnv.CREDENTIALS_KEY }).s3
  t.equal(chain.accessKey, undefined, 'no keys: the AWS credential chain')
  t.match(
    configProblems({ S3_ACCESS_KEY: '', S3_SECRET_KEY: 'b' }),
    /static S3 credentials .* \(missing: S3_ACCESS_KEY\)/,
  )
  const pre = load({ S3_BUCKET_PREFIX: 'acme-prod-' }).s3.layout
  t.same(s3Location(pre, 'webhooks-outbound'), { bucket: 'acme-prod-webhooks-outbound', prefix: '' })
  const one = load({ S3_BUCKET: 'acme-gwb', S3_KEY_PREFIX: 'prod' }).s3.layout
  t.same(s3Location(one, 'media-inbound'), { bucket: 'acme-gwb', prefix: 'prod/media-inbound/' })
  t.same(s3Location(load({}).s3.layout, 'media-inbound'), { bucket: 'media-inbound', prefix: '' }, 'default: unchanged')
  t.match(configProblems({ S3_BUCKET: 'Acme_GWB' }), /S3_BUCKET must be a valid S3 bucket name/)
  t.match(configProblems({ S3_BUCKET_PREFIX: 'UPPER-' }), /S3_BUCKET_PREFIX may hold lower-case letters/)
  t.match(configProblems({ S3_BUCKET: 'acme-gwb', S3_BUCKET_PREFIX: 'x-' }), /two layouts; set one/)
  t.match(configProblems({ S3_KEY_PREFIX: 'prod/' }), /S3_KEY_PREFIX is only used with S3_BUCKET/)
  t.match(configProblems({ S3_BUCKET: 'acme-gwb', S3_KEY_PREFIX: '../other' }), /S3_KEY_PREFIX must be a relative path/)
})

t.test('topics: min.insync.replicas from config, at most the replication factor', async (t) => {
  t.equal(load({}).kafka.minInsyncReplicas, 1)
  t.equal(load({ TOPIC_REPLICATION_FACTOR: '3' }).kafka.minInsyncReplicas, 2)
  t.equal(load({ TOPIC_REPLICATION_FACTOR: '5', TOPIC_MIN_INSYNC_REPLICAS: '3' }).kafka.minInsyncReplicas, 3)
  t.match(
    configProblems({ TOPIC_REPLICATION_FACTOR: '3', TOPIC_MIN_INSYNC_REPLICAS: '4' }),
    /TOPIC_MIN_INSYNC_REPLICAS must be an integer from 1 to 3/,
  )
})
