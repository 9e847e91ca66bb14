import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { loadConfig } from '../../src/config/config.js'
import { kafkaSecurityOptions } from '../../src/sinks/kafka/client.js'
import { configProblems, minimalEnv } from '../helpers/config-env.js'

const dir = mkdtempSync(join(tmpdir(), 'gwb-kafka-sec-'))
const ca = join(dir, 'ca.pem')
writeFileSync(ca, '-----BEGIN CERTIFICATE-----\nnot really\n-----END CERTIFICATE-----\n')

const load = (env: Record<string, string>) => loadConfig({ ...minimalEnv, ...env }).kafka.security

t.test('PLAINTEXT by default: no TLS, no SASL', async (t) => {
  const s = load({})
  t.same(s, { protocol: 'PLAINTEXT', tls: undefined, sasl: undefined })
  t.same(kafkaSecurityOptions(s), {})
})

t.test('SSL with a CA file and a server name: the file is read at start, verification stays on', async (t) => {
  const s = load({ KAFKA_SECURITY_PROTOCOL: 'SSL', KAFKA_SSL_CA_FILE: ca, KAFKA_SSL_SERVERNAME: 'kafka.internal' })
  t.equal(s.tls?.ca?.toString().includes('not really'), true)
  const { ssl, sasl } = kafkaSecurityOptions(s)
  t.equal(sasl, undefined)
  t.equal(ssl?.rejectUnauthorized, true)
  t.equal(ssl?.servername, 'kafka.internal')
  t.equal(Array.isArray(ssl?.ca) && ssl.ca.length, 1)
})

t.test('a client certificate needs both files', async (t) => {
  t.match(
    configProblems({ KAFKA_SECURITY_PROTOCOL: 'SSL', KAFKA_SSL_CERT_FILE: ca }),
    /a client certificate needs KAFKA_SSL_CERT_FILE and KAFKA_SSL_KEY_FILE \(missing: KAFKA_SSL_KEY_FILE\)/,
  )
  const s = load({ KAFKA_SECURITY_PROTOCOL: 'SSL', KAFKA_SSL_CERT_FILE: ca, KAFKA_SSL_KEY_FILE: ca })
  t.ok(kafkaSecurityOptions(s).ssl?.cert !== undefined && kafkaSecurityOptions(s).ssl?.key !== undefined)
})

t.test('an unreadable CA file names the variable', async (t) => {
  t.match(
    configProblems({
      KAFKA_SECURITY_PROTOCOL: 'SASL_SSL',
      KAFKA_SSL_CA_FILE: join(dir, 'missing.pem'),
      KAFKA_SASL_MECHANISM: 'PLAIN',
      KAFKA_SASL_USERNAME: 'u',
      KAFKA_SASL_PASSWORD: 'p',
    }),
    /KAFKA_SSL_CA_FILE names a file that cannot be read: ENOENT/,
  )
})

for (const [mechanism, kafkajs] of [
  ['PLAIN', 'plain'],
  ['SCRAM-SHA-256', 'scram-sha-256'],
  ['SCRAM-SHA-512', 'scram-sha-512'],
] as const) {
  t.test(`${mechanism}: username and password, both required`, async (t) => {
    const env = { KAFKA_SECURITY_PROTOCOL: 'SASL_SSL', KAFKA_SASL_MECHANISM: mechanism }
    const s = load({ ...env, KAFKA_SASL_USERNAME: 'bridge', KAFKA_SASL_PASSWORD: 'pw' })
    t.same(s.sasl, { mechanism, username: 'bridge', password: 'pw' })
    t.same(kafkaSecurityOptions(s).sasl, { mechanism: kafkajs, username: 'bridge', password: 'pw' })
    t.ok(kafkaSecurityOptions(s).ssl !== undefined, 'SASL_SSL also turns TLS on')
    t.match(
      configProblems({ ...env, KAFKA_SASL_USERNAME: 'bridge' }),
      new RegExp(
        `KAFKA_SASL_MECHANISM=${mechanism} needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD \\(missing: KAFKA_SASL_PASSWORD\\)`,
      ),
    )
  })
}

t.test('SASL_PLAINTEXT: SASL without TLS', async (t) => {
  const s = load({
    KAFKA_SECURITY_PROTOCOL: 'SASL_PLAINTEXT',
    KAFKA_SASL_MECHANISM: 'PLAIN',
    KAFKA_SASL_USERNAME: 'u',
    KAFKA_SASL_PASSWORD: 'p',
  })
  t.equal(kafkaSecurityOptions(s).ssl, undefined)
  t.equal(kafkaSecurityOptions(s).sasl?.mechanism, 'plain')
})

t.test('OAUTHBEARER: a client-credentials grant or a token file, and exactly one of them', async (t) => {
  const env = { KAFKA_SECURITY_PROTOCOL: 'SASL_SSL', KAFKA_SASL_MECHANISM: 'OAUTHBEARER' }
  const grant = load({
    ...env,
    KAFKA_SASL_OAUTH_TOKEN_URL: 'https://idp.example/oauth2/token',
    KAFKA_SASL_OAUTH_CLIENT_ID: 'bridge',
    KAFKA_SASL_OAUTH_CLIENT_SECRET: 's3cret',
    KAFKA_SASL_OAUTH_SCOPE: 'kafka',
  })
  t.same(grant.sasl, {
    mechanism: 'OAUTHBEARER',
    token: {
      kind: 'client-credentials',
      tokenUrl: 'https://idp.example/oauth2/token',
      clientId: 'bridge',
      clientSecret: 's3cret',
      scope: 'kafka',
    },
  })
  const opts = kafkaSecurityOptions(grant).sasl
  t.equal(opts?.mechanism, 'oauthbearer')
  t.type(opts?.mechanism === 'oauthbearer' ? opts.oauthBearerProvider : undefined, 'function')
  t.same(load({ ...env, KAFKA_SASL_OAUTH_TOKEN_FILE: '/var/run/secrets/kafka/token' }).sasl, {
    mechanism: 'OAUTHBEARER',
    token: { kind: 'file', path: '/var/run/secrets/kafka/token' },
  })
  const ext = load({
    ...env,
    KAFKA_SASL_OAUTH_TOKEN_FILE: '/t',
    KAFKA_SASL_OAUTH_EXTENSIONS: 'logicalCluster=lkc-1, identityPoolId=pool-2',
  })
  t.same(ext.sasl?.mechanism === 'OAUTHBEARER' && ext.sasl.extensions, {
    logicalCluster: 'lkc-1',
    identityPoolId: 'pool-2',
  })
  t.match(
    configProblems({ ...env, KAFKA_SASL_OAUTH_TOKEN_FILE: '/t', KAFKA_SASL_OAUTH_EXTENSIONS: 'logical cluster=x' }),
    /KAFKA_SASL_OAUTH_EXTENSIONS must be key=value\[,key=value\] with letter-only keys, got "logical cluster=x"/,
  )
  t.match(
    configProblems(env),
    /OAUTHBEARER needs a token source: KAFKA_SASL_OAUTH_TOKEN_FILE, or KAFKA_SASL_OAUTH_TOKEN_URL and/,
  )
  t.match(
    configProblems({
      ...env,
      KAFKA_SASL_OAUTH_TOKEN_URL: 'https://idp.example/token',
      KAFKA_SASL_OAUTH_CLIENT_ID: 'x',
    }),
    /OAUTHBEARER needs .*\(missing: KAFKA_SASL_OAUTH_CLIENT_SECRET\)/,
  )
  t.match(
    configProblems({
      ...env,
      KAFKA_SASL_OAUTH_TOKEN_URL: 'https://idp.example/token',
      KAFKA_SASL_OAUTH_TOKEN_FILE: '/t',
    }),
    /two token sources; set one/,
  )
})

t.test('AWS_MSK_IAM: a region (its own variable or AWS_REGION), tokens from AWS signer', async (t) => {
  const env = { KAFKA_SECURITY_PROTOCOL: 'SASL_SSL', KAFKA_SASL_MECHANISM: 'AWS_MSK_IAM' }
  t.same(load({ ...env, KAFKA_SASL_AWS_REGION: 'eu-west-1' }).sasl, { mechanism: 'AWS_MSK_IAM', region: 'eu-west-1' })
  t.same(load({ ...env, AWS_REGION: 'us-east-2' }).sasl, { mechanism: 'AWS_MSK_IAM', region: 'us-east-2' })
  t.equal(kafkaSecurityOptions(load({ ...env, AWS_REGION: 'us-east-2' })).sasl?.mechanism, 'oauthbearer')
  t.match(configProblems(env), /AWS_MSK_IAM needs KAFKA_SASL_AWS_REGION \(or AWS_REGION\)/)
})

t.test('mistakes name the variable', async (t) => {
  t.match(
    configProblems({ KAFKA_SECURITY_PROTOCOL: 'TLS' }),
    /KAFKA_SECURITY_PROTOCOL must be one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL/,
  )
  t.match(
    configProblems({ KAFKA_SECURITY_PROTOCOL: 'SASL_SSL' }),
    /KAFKA_SASL_MECHANISM is required with a SASL protocol/,
  )
  t.match(
    configProblems({ KAFKA_SECURITY_PROTOCOL: 'SASL_SSL', KAFKA_SASL_MECHANISM: 'GSSAPI' }),
    /KAFKA_SASL_MECHANISM must be one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER, AWS_MSK_IAM/,
  )
  // Credentials that the protocol would silently ignore are refused (the most likely slip: the protocol left at PLAINTEXT).
  t.match(
    configProblems({ KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'p' }),
    /KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD set, but KAFKA_SECURITY_PROTOCOL=PLAINTEXT does not use it/,
  )
  t.match(configProblems({ KAFKA_SSL_CA_FILE: ca }), /KAFKA_SSL_CA_FILE set, but KAFKA_SECURITY_PROTOCOL=PLAINTEXT/)
})
