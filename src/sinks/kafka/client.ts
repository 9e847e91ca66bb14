import type { ConnectionOptions } from 'node:tls'
import { Kafka, logLevel as kafkaLogLevel, type LogEntry, type SASLOptions } from 'kafkajs'
import type { KafkaSasl, KafkaSecurity } from '../../config/kafka-security.js'
import { BridgeError, errorMessage, isBridgeError } from '../../errors.js'
import type { Logger } from '../../log.js'
import { tokenProvider } from './oauth-token.js'
import { guardKafkaRequestQueueIdle } from './request-queue-idle.js'

/** kafkajs logs through pino, one level down: its INFO is chatty (every join, every commit). */
function logCreator(log: Logger) {
  return () =>
    ({ level, log: entry }: LogEntry) => {
      const { message, ...rest } = entry
      if (level === kafkaLogLevel.ERROR) log.error(rest, message)
      else if (level === kafkaLogLevel.WARN) log.warn(rest, message)
      else log.debug(rest, message)
    }
}

export interface KafkaClientOptions {
  brokers: readonly string[]
  clientId: string
  /** Every client of the project (bridge, CLI, bench, tests) passes the configured security. */
  security: KafkaSecurity
  log: Logger
}

export function createKafka(opts: KafkaClientOptions): Kafka {
  if (!guardKafkaRequestQueueIdle())
    opts.log.warn('kafkajs internals changed: its idle 1 ms request-queue loop stays on')
  const { ssl, sasl } = kafkaSecurityOptions(opts.security)
  return new Kafka({
    clientId: opts.clientId,
    brokers: [...opts.brokers],
    ...(ssl === undefined ? {} : { ssl }),
    ...(sasl === undefined ? {} : { sasl }),
    logLevel: kafkaLogLevel.WARN,
    logCreator: logCreator(opts.log.child({ component: 'kafkajs' })),
    // Fail fast so ingest can answer 503 while the broker is away; callers retry.
    connectionTimeout: 3000,
    // A SASL handshake over TLS takes several round trips; kafkajs's 1 s default is short for a managed cluster.
    authenticationTimeout: 10_000,
    requestTimeout: 10_000,
    retry: { initialRetryTime: 100, maxRetryTime: 2000, retries: 5 },
  })
}

/** kafkajs's `ssl` and `sasl` options from the validated configuration. */
export function kafkaSecurityOptions(security: KafkaSecurity): { ssl?: ConnectionOptions; sasl?: SASLOptions } {
  const t = security.tls
  const ssl: ConnectionOptions | undefined =
    t === undefined
      ? undefined
      : {
          // Never turned off: a broker whose certificate does not verify is refused.
          rejectUnauthorized: true,
          ...(t.ca === undefined ? {} : { ca: [t.ca] }),
          ...(t.cert === undefined ? {} : { cert: t.cert }),
          ...(t.key === undefined ? {} : { key: t.key }),
          ...(t.keyPassword === undefined ? {} : { passphrase: t.keyPassword }),
          ...(t.servername === undefined ? {} : { servername: t.servername }),
        }
  const sasl = saslOptions(security.sasl)
  return { ...(ssl === undefined ? {} : { ssl }), ...(sasl === undefined ? {} : { sasl }) }
}

function saslOptions(s: KafkaSasl | undefined): SASLOptions | undefined {
  switch (s?.mechanism) {
    case undefined:
      return undefined
    case 'PLAIN':
    case 'SCRAM-SHA-256':
    case 'SCRAM-SHA-512': {
      const mechanism = (
        { PLAIN: 'plain', 'SCRAM-SHA-256': 'scram-sha-256', 'SCRAM-SHA-512': 'scram-sha-512' } as const
      )[s.mechanism]
      return { mechanism, username: s.username, password: s.password }
    }
    case 'OAUTHBEARER':
    case 'AWS_MSK_IAM':
      return { mechanism: 'oauthbearer', oauthBearerProvider: tokenProvider(s) }
  }
}

/** Node's codes for a certificate that does not verify. */
const certCodes =
  /^(SELF_SIGNED_CERT_IN_CHAIN|DEPTH_ZERO_SELF_SIGNED_CERT|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT(_LOCALLY)?|CERT_HAS_EXPIRED|CERT_NOT_YET_VALID|ERR_TLS_CERT_ALTNAME_INVALID|CERT_UNTRUSTED|CERT_SIGNATURE_FAILURE)$/

/** The error and its causes (kafkajs wraps them in retries and connection errors). */
function chain(err: unknown): Array<Error & { code?: unknown; name: string }> {
  const out: Array<Error & { code?: unknown }> = []
  let e: unknown = err
  while (e instanceof Error && out.length < 10) {
    out.push(e)
    const x = e as Error & { originalError?: unknown; cause?: unknown }
    e = x.originalError ?? x.cause
  }
  return out
}

/**
 * What a failed first contact means, in the operator's terms: refused credentials and an untrusted
 * certificate are configuration mistakes (no retry helps, GWB_KAFKA_AUTH) and name the variables to
 * check; anything else is an unreachable cluster (GWB_KAFKA_UNAVAILABLE).
 */
export function explainKafkaFailure(err: unknown, brokers: readonly string[], security: KafkaSecurity): BridgeError {
  const errs = chain(err)
  const where = `Kafka at ${brokers.join(',')} (${security.protocol})`
  const sasl = errs.find((e) => e.name === 'KafkaJSSASLAuthenticationError')
  if (sasl !== undefined) {
    const vars =
      security.sasl?.mechanism === 'OAUTHBEARER' || security.sasl?.mechanism === 'AWS_MSK_IAM'
        ? 'the token source'
        : 'KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD'
    return new BridgeError(
      'GWB_KAFKA_AUTH',
      `${where} refused the ${security.sasl?.mechanism ?? 'SASL'} login (check ${vars}): ${sasl.message}`,
      { cause: err },
    )
  }
  // A token that could not be had (its own message names the token source).
  const tokenError = errs.find((e) => isBridgeError(e) && e.code === 'GWB_KAFKA_AUTH')
  if (tokenError !== undefined && isBridgeError(tokenError)) return tokenError
  const cert = errs.find((e) => typeof e.code === 'string' && certCodes.test(e.code))
  const certMessage = errs.find((e) => /certificate|altnames/i.test(e.message))
  if (cert !== undefined || certMessage !== undefined) {
    const e = cert ?? certMessage
    return new BridgeError(
      'GWB_KAFKA_AUTH',
      `${where}: the broker's TLS certificate is not trusted (check KAFKA_SSL_CA_FILE and KAFKA_SSL_SERVERNAME): ${e?.message ?? ''}`,
      { cause: err },
    )
  }
  return new BridgeError(
    'GWB_KAFKA_UNAVAILABLE',
    `${where} unreachable (if it answers, check that KAFKA_SECURITY_PROTOCOL matches its listener): ${errorMessage(err)}`,
    { canRetry: true, cause: err },
  )
}

/** First contact at start: connects an admin and asks for the cluster, so a bad setting stops the start with its name. */
export async function checkKafka(kafka: Kafka, brokers: readonly string[], security: KafkaSecurity): Promise<void> {
  const admin = kafka.admin()
  try {
    await admin.connect()
    await admin.describeCluster()
  } catch (err) {
    throw explainKafkaFailure(err, brokers, security)
  } finally {
    await admin.disconnect().catch(() => undefined)
  }
}
