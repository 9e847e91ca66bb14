import type { EnvReader } from './parse-env.js'

/**
 * How every Kafka client of the project (bridge, CLI, bench) reaches the brokers: Kafka's own
 * security protocols (PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL) and SASL mechanisms, so the
 * values a managed cluster's console shows can be copied as they are.
 */
export const kafkaProtocols = ['PLAINTEXT', 'SSL', 'SASL_PLAINTEXT', 'SASL_SSL'] as const
export type KafkaProtocol = (typeof kafkaProtocols)[number]

export const saslMechanisms = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512', 'OAUTHBEARER', 'AWS_MSK_IAM'] as const
export type SaslMechanism = (typeof saslMechanisms)[number]

export interface KafkaTls {
  /** PEM CA bundle the broker certificates must chain to; absent = Node's built-in CAs. */
  readonly ca: Buffer | undefined
  /** Client certificate and key (PEM) for clusters that authenticate clients by certificate. */
  readonly cert: Buffer | undefined
  readonly key: Buffer | undefined
  readonly keyPassword: string | undefined
  /** Name checked in the broker certificate when it differs from the host in KAFKA_BROKERS. */
  readonly servername: string | undefined
}

/** Where OAUTHBEARER tokens come from: an OAuth client-credentials grant, or a file kept fresh by the platform. */
export type OAuthTokenSource =
  | {
      readonly kind: 'client-credentials'
      readonly tokenUrl: string
      readonly clientId: string
      readonly clientSecret: string
      readonly scope: string | undefined
    }
  | { readonly kind: 'file'; readonly path: string }

export type KafkaSasl =
  | {
      readonly mechanism: 'PLAIN' | 'SCRAM-SHA-256' | 'SCRAM-SHA-512'
      readonly username: string
      readonly password: string
    }
  | {
      readonly mechanism: 'OAUTHBEARER'
      readonly token: OAuthTokenSource
      /** SASL extensions sent with the token (Confluent Cloud: logicalCluster, identityPoolId). */
      readonly extensions: Readonly<Record<string, string>> | undefined
    }
  | { readonly mechanism: 'AWS_MSK_IAM'; readonly region: string }

export interface KafkaSecurity {
  readonly protocol: KafkaProtocol
  readonly tls: KafkaTls | undefined
  readonly sasl: KafkaSasl | undefined
}

const tlsVars = [
  'KAFKA_SSL_CA_FILE',
  'KAFKA_SSL_CERT_FILE',
  'KAFKA_SSL_KEY_FILE',
  'KAFKA_SSL_KEY_PASSWORD',
  'KAFKA_SSL_SERVERNAME',
]
const saslVars = [
  'KAFKA_SASL_MECHANISM',
  'KAFKA_SASL_USERNAME',
  'KAFKA_SASL_PASSWORD',
  'KAFKA_SASL_OAUTH_TOKEN_URL',
  'KAFKA_SASL_OAUTH_CLIENT_ID',
  'KAFKA_SASL_OAUTH_CLIENT_SECRET',
  'KAFKA_SASL_OAUTH_SCOPE',
  'KAFKA_SASL_OAUTH_TOKEN_FILE',
  'KAFKA_SASL_OAUTH_EXTENSIONS',
  'KAFKA_SASL_AWS_REGION',
]

export function readKafkaSecurity(r: EnvReader): KafkaSecurity {
  const protocol = r.oneOf('KAFKA_SECURITY_PROTOCOL', 'PLAINTEXT', kafkaProtocols)
  const withTls = protocol === 'SSL' || protocol === 'SASL_SSL'
  const withSasl = protocol.startsWith('SASL_')
  // A variable that the chosen protocol would ignore is a mistake that would otherwise pass silently.
  const ignored = [...(withTls ? [] : tlsVars), ...(withSasl ? [] : saslVars)].filter(
    (n) => r.optionalString(n) !== undefined,
  )
  if (ignored.length > 0) {
    r.problems.push(`${ignored.join(', ')} set, but KAFKA_SECURITY_PROTOCOL=${protocol} does not use it`)
  }
  return { protocol, tls: withTls ? readTls(r) : undefined, sasl: withSasl ? readSasl(r) : undefined }
}

function readTls(r: EnvReader): KafkaTls {
  const hasCert = r.optionalString('KAFKA_SSL_CERT_FILE') !== undefined
  const hasKey = r.optionalString('KAFKA_SSL_KEY_FILE') !== undefined
  if (hasCert !== hasKey) r.allOf('a client certificate', ['KAFKA_SSL_CERT_FILE', 'KAFKA_SSL_KEY_FILE'])
  return {
    ca: r.file('KAFKA_SSL_CA_FILE'),
    cert: r.file('KAFKA_SSL_CERT_FILE'),
    key: r.file('KAFKA_SSL_KEY_FILE'),
    keyPassword: r.optionalString('KAFKA_SSL_KEY_PASSWORD'),
    servername: r.optionalString('KAFKA_SSL_SERVERNAME'),
  }
}

function readSasl(r: EnvReader): KafkaSasl | undefined {
  const mechanism = r.optionalString('KAFKA_SASL_MECHANISM')
  if (mechanism === undefined) {
    r.problems.push(`KAFKA_SASL_MECHANISM is required with a SASL protocol (one of ${saslMechanisms.join(', ')})`)
    return undefined
  }
  const m = r.oneOf('KAFKA_SASL_MECHANISM', 'PLAIN', saslMechanisms)
  const s = (name: string): string => r.optionalString(name) ?? ''
  switch (m) {
    case 'PLAIN':
    case 'SCRAM-SHA-256':
    case 'SCRAM-SHA-512':
      r.allOf(`KAFKA_SASL_MECHANISM=${m}`, ['KAFKA_SASL_USERNAME', 'KAFKA_SASL_PASSWORD'])
      return { mechanism: m, username: s('KAFKA_SASL_USERNAME'), password: s('KAFKA_SASL_PASSWORD') }
    case 'OAUTHBEARER':
      return { mechanism: m, token: readOAuth(r), extensions: readExtensions(r) }
    case 'AWS_MSK_IAM': {
      const region = r.optionalString('KAFKA_SASL_AWS_REGION') ?? r.optionalString('AWS_REGION')
      if (region === undefined)
        r.problems.push('KAFKA_SASL_MECHANISM=AWS_MSK_IAM needs KAFKA_SASL_AWS_REGION (or AWS_REGION)')
      return { mechanism: m, region: region ?? '' }
    }
  }
}

/** `key=value,key=value`, keys as RFC 7628 allows (letters only), values without separators. */
function readExtensions(r: EnvReader): Record<string, string> | undefined {
  const v = r.optionalString('KAFKA_SASL_OAUTH_EXTENSIONS')
  if (v === undefined) return undefined
  const out: Record<string, string> = {}
  for (const pair of v.split(',')) {
    const m = /^\s*([A-Za-z]+)=([^\s,=\p{Cc}]+)\s*$/u.exec(pair)
    if (m?.[1] === undefined || m[2] === undefined || m[1] === 'auth') {
      r.problems.push(`KAFKA_SASL_OAUTH_EXTENSIONS must be key=value[,key=value] with letter-only keys, got "${pair}"`)
      continue
    }
    out[m[1]] = m[2]
  }
  return out
}

function readOAuth(r: EnvReader): OAuthTokenSource {
  const path = r.optionalString('KAFKA_SASL_OAUTH_TOKEN_FILE')
  const url = r.optionalString('KAFKA_SASL_OAUTH_TOKEN_URL')
  if (path !== undefined && url !== undefined) {
    r.problems.push('KAFKA_SASL_OAUTH_TOKEN_FILE and KAFKA_SASL_OAUTH_TOKEN_URL are two token sources; set one')
  }
  if (path !== undefined) return { kind: 'file', path }
  const grant = ['KAFKA_SASL_OAUTH_TOKEN_URL', 'KAFKA_SASL_OAUTH_CLIENT_ID', 'KAFKA_SASL_OAUTH_CLIENT_SECRET']
  if (url === undefined) {
    r.problems.push(
      `KAFKA_SASL_MECHANISM=OAUTHBEARER needs a token source: KAFKA_SASL_OAUTH_TOKEN_FILE, or ${grant.join(' and ')}`,
    )
  } else if (r.allOf('KAFKA_SASL_MECHANISM=OAUTHBEARER', grant)) {
    r.url('KAFKA_SASL_OAUTH_TOKEN_URL', undefined, ['https:', 'http:'])
  }
  return {
    kind: 'client-credentials',
    tokenUrl: url ?? '',
    clientId: r.optionalString('KAFKA_SASL_OAUTH_CLIENT_ID') ?? '',
    clientSecret: r.optionalString('KAFKA_SASL_OAUTH_CLIENT_SECRET') ?? '',
    scope: r.optionalString('KAFKA_SASL_OAUTH_SCOPE'),
  }
}
