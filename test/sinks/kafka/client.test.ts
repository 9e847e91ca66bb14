import t from 'tap'
import type { KafkaSecurity } from '../../../src/config/kafka-security.js'
import { BridgeError } from '../../../src/errors.js'
import { explainKafkaFailure } from '../../../src/sinks/kafka/client.js'

const scram: KafkaSecurity = {
  protocol: 'SASL_SSL',
  tls: { ca: undefined, cert: undefined, key: undefined, keyPassword: undefined, servername: undefined },
  sasl: { mechanism: 'SCRAM-SHA-512', username: 'u', password: 'p' },
}
const brokers = ['b-1:9096']
/** kafkajs wraps the cause of a failed connect in retries: `originalError` links them. */
const wrapped = (inner: Error): Error =>
  Object.assign(new Error('Connection error: retries exhausted'), {
    name: 'KafkaJSNumberOfRetriesExceeded',
    originalError: inner,
  })

t.test('a refused login names the mechanism and the variables; no retry', async (t) => {
  const e = explainKafkaFailure(
    Object.assign(new Error('SASL SCRAM SHA512 authentication failed: invalid credentials'), {
      name: 'KafkaJSSASLAuthenticationError',
    }),
    brokers,
    scram,
  )
  t.equal(e.code, 'GWB_KAFKA_AUTH')
  t.equal(e.canRetry, false)
  t.match(
    e.message,
    /^Kafka at b-1:9096 \(SASL_SSL\) refused the SCRAM-SHA-512 login \(check KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD\)/,
  )
})

t.test('an untrusted certificate deep in the cause chain names the CA file', async (t) => {
  const tls = Object.assign(new Error('self-signed certificate in certificate chain'), {
    code: 'SELF_SIGNED_CERT_IN_CHAIN',
  })
  const e = explainKafkaFailure(wrapped(tls), brokers, scram)
  t.equal(e.code, 'GWB_KAFKA_AUTH')
  t.match(
    e.message,
    /the broker's TLS certificate is not trusted \(check KAFKA_SSL_CA_FILE and KAFKA_SSL_SERVERNAME\): self-signed/,
  )
})

t.test('a token that could not be had is reported as itself', async (t) => {
  const token = new BridgeError(
    'GWB_KAFKA_AUTH',
    'Kafka OAUTHBEARER token: token endpoint https://idp/token answered 401',
  )
  t.equal(explainKafkaFailure(wrapped(token), brokers, scram), token)
})

t.test('anything else is an unreachable cluster, retryable, with a hint about the protocol', async (t) => {
  const e = explainKafkaFailure(wrapped(new Error('Connection timeout')), brokers, scram)
  t.equal(e.code, 'GWB_KAFKA_UNAVAILABLE')
  t.equal(e.canRetry, true)
  t.match(e.message, /unreachable \(if it answers, check that KAFKA_SECURITY_PROTOCOL matches its listener\)/)
})
