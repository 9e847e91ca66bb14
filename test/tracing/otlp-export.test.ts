import t from 'tap'
import { once } from 'node:events'
import { createServer, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import { startTracing } from '../../src/app/tracing.js'
import { loadConfig } from '../../src/config/config.js'
import { traceHeaders } from '../../src/sinks/kafka/trace-headers.js'
import { inSpan } from '../../src/tracing/spans.js'
import { testEnv } from '../helpers/stack.js'

// A process of its own: it registers the process-wide tracer.

t.test('without an endpoint nothing is recorded and no trace context is written', async (t) => {
  const tracing = startTracing(loadConfig(testEnv()).tracing)
  await inSpan('work', {}, async (span) => {
    t.notOk(span.isRecording(), 'the no-op tracer')
    t.same(traceHeaders(), {}, 'no traceparent header')
  })
  await tracing.shutdown()
})

t.test('with OTEL_EXPORTER_OTLP_ENDPOINT spans go to <endpoint>/v1/traces with the configured headers', async (t) => {
  const received: { url: string | undefined; auth: string | undefined; body: string }[] = []
  const server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      received.push({ url: req.url, auth: req.headers['authorization'], body: Buffer.concat(chunks).toString() })
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}')
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => new Promise((r) => server.close(r)))
  const { port } = server.address() as AddressInfo
  const config = loadConfig(
    testEnv({
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`,
      OTEL_EXPORTER_OTLP_HEADERS: 'authorization=Bearer%20collector-key',
      OTEL_SERVICE_NAME: 'gwb-test-export',
    }),
  ).tracing
  const tracing = startTracing(config)
  let traceparent: string | undefined
  await inSpan('work', { attributes: { 'gwb.tenant_id': 't-export' } }, async (span) => {
    t.ok(span.isRecording())
    traceparent = traceHeaders()['traceparent']
  })
  t.match(traceparent, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/, 'a sampled W3C traceparent for the Kafka headers')
  await tracing.shutdown() // flushes the batch
  t.equal(received.length, 1)
  t.equal(received[0]?.url, '/v1/traces')
  t.equal(received[0]?.auth, 'Bearer collector-key')
  t.match(received[0]?.body, /gwb-test-export/, 'the service name')
  t.match(received[0]?.body, /t-export/, 'the span and its attributes')
})
