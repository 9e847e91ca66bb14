import t from 'tap'
import { loadConfig } from '../../src/config/config.js'
import { configProblems, minimalEnv } from '../helpers/config-env.js'

t.test('tracing is off unless OTEL_EXPORTER_OTLP_ENDPOINT is set', async (t) => {
  t.same(loadConfig(minimalEnv).tracing, {
    endpoint: undefined,
    headers: {},
    serviceName: 'genesys-whatsapp-bridge',
    sampleRatio: 1,
  })
})

t.test('the standard OTEL_* variables are read', async (t) => {
  const c = loadConfig({
    ...minimalEnv,
    OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/',
    OTEL_EXPORTER_OTLP_HEADERS: 'Authorization=Bearer%20abc, x-tenant = ops',
    OTEL_SERVICE_NAME: 'gwb-ingest',
    OTEL_TRACES_SAMPLER_ARG: '0.25',
  })
  t.same(c.tracing, {
    endpoint: 'http://collector:4318',
    headers: { authorization: 'Bearer abc', 'x-tenant': 'ops' },
    serviceName: 'gwb-ingest',
    sampleRatio: 0.25,
  })
})

t.test('bad values are named; a header value (a credential) never is', async (t) => {
  const msg = configProblems({
    OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318',
    OTEL_EXPORTER_OTLP_HEADERS: 'api-key=s3cr3t-%E0%A4%A,=nokey',
    OTEL_TRACES_SAMPLER_ARG: '2',
  })
  t.match(msg, /OTEL_EXPORTER_OTLP_ENDPOINT must use http: or https:/)
  t.match(msg, /OTEL_EXPORTER_OTLP_HEADERS pair 1 is not key=url-encoded-value/)
  t.match(msg, /OTEL_EXPORTER_OTLP_HEADERS pair 2 is not key=url-encoded-value/)
  t.match(msg, /OTEL_TRACES_SAMPLER_ARG must be a number from 0 to 1, got "2"/)
  t.notMatch(msg, /s3cr3t/, 'the header value stays out of the message')
})
