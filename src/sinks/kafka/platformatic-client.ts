import type { BaseOptions, SASLOptions } from '@platformatic/kafka'
import type { KafkaSasl } from '../../config/kafka-security.js'
import { kafkaSecurityOptions, type KafkaClientOptions } from './client.js'
import { tokenProvider } from './oauth-token.js'

/**
 * The options every @platformatic/kafka client of the bridge shares: the same brokers, security and
 * timeouts the kafkajs client gets (createKafka), so KAFKA_CLIENT changes the client, not the
 * connection. Admin work (topics, lag, the CLI) stays on kafkajs either way.
 */
export function platformaticOptions(opts: Omit<KafkaClientOptions, 'log'>): BaseOptions {
  const { ssl } = kafkaSecurityOptions(opts.security)
  const sasl = saslOptions(opts.security.sasl)
  return {
    clientId: opts.clientId,
    bootstrapBrokers: [...opts.brokers],
    ...(ssl === undefined ? {} : { tls: ssl }),
    ...(sasl === undefined ? {} : { sasl }),
    // As createKafka: fail fast so ingest can answer 503 while the broker is away; callers retry.
    connectTimeout: 3000,
    requestTimeout: 10_000,
    retries: 5,
    retryDelay: (_client, _operation, attempt) => Math.min(2000, 100 * 2 ** attempt),
  }
}

function saslOptions(s: KafkaSasl | undefined): SASLOptions | undefined {
  switch (s?.mechanism) {
    case undefined:
      return undefined
    case 'PLAIN':
    case 'SCRAM-SHA-256':
    case 'SCRAM-SHA-512':
      return { mechanism: s.mechanism, username: s.username, password: s.password }
    case 'OAUTHBEARER':
    case 'AWS_MSK_IAM': {
      // The same cached token source as kafkajs's: fetched once, again a minute before expiry.
      const provider = tokenProvider(s)
      const extensions = s.mechanism === 'OAUTHBEARER' ? s.extensions : undefined
      return {
        mechanism: 'OAUTHBEARER',
        token: async () => (await provider()).value,
        ...(extensions === undefined ? {} : { oauthBearerExtensions: { ...extensions } }),
      }
    }
  }
}
