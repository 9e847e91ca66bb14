import t from 'tap'
import { randomUUID } from 'node:crypto'
import { SpanKind } from '@opentelemetry/api'
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base'
import { startBridge } from '../../src/app/bridge.js'
import { startTracing } from '../../src/app/tracing.js'
import { loadConfig } from '../../src/config/config.js'
import { startHarness } from '../helpers/bridge-harness.js'
import { testLog } from '../helpers/stack.js'

// Both roles run in this one test process (an ingest bridge and an outbound bridge, each with its
// own Kafka clients): the in-memory exporter is the process's, so it sees the spans of both. What
// links them is only what travels in the Kafka record's headers.
const exporter = new InMemorySpanExporter()
const tracing = startTracing(
  loadConfig({ S3_ACCESS_KEY: 'x', S3_SECRET_KEY: 'x', CREDENTIALS_KEY: Buffer.alloc(32).toString('base64') }).tracing,
  {
    processor: new SimpleSpanProcessor(exporter),
  },
)
t.teardown(() => tracing.shutdown())

async function waitForSpan(pred: (s: ReadableSpan) => boolean, timeoutMs = 30_000): Promise<ReadableSpan> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const found = exporter.getFinishedSpans().find(pred)
    if (found !== undefined) return found
    if (Date.now() > deadline) throw new Error('span not exported in time')
    await new Promise((r) => setTimeout(r, 50))
  }
}

/** From a span up to its root through parent ids (spans of one trace only). */
function chainOf(span: ReadableSpan, all: readonly ReadableSpan[]): ReadableSpan[] {
  const byId = new Map(all.map((s) => [s.spanContext().spanId, s]))
  const chain = [span]
  for (let cur = span; cur.parentSpanContext !== undefined;) {
    const parent = byId.get(cur.parentSpanContext.spanId)
    if (parent === undefined) break
    chain.push(parent)
    cur = parent
  }
  return chain
}

t.test('one webhook: one connected trace from the ingest request to the Meta call', async (t) => {
  const h = await startHarness({ ROLES: 'ingest' })
  t.teardown(() => h.close())
  const outbound = await startBridge(loadConfig({ ...h.env, ROLES: 'outbound' }), testLog)
  t.teardown(() => outbound.stop())

  const text = `trace me ${randomUUID()}`
  const body = h.genesys.buildOutbound({
    integrationId: h.tenant.genesys.integrationId,
    conversationId: randomUUID(),
    toId: '447700900123',
    text,
  })
  const messageId = (body as { id: string }).id
  t.equal((await h.postGenesys(body)).status, 200)
  await h.meta.waitFor((r) => r.status === 200 && r.raw.includes(text), 30_000)

  const send = await waitForSpan((s) => s.name === 'meta send' && s.kind === SpanKind.CLIENT)
  const traceId = send.spanContext().traceId
  const inTrace = exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId)
  const topic = h.config.kafka.topics.genesysOutbound
  const chain = chainOf(send, inTrace)
  t.same(
    chain.map((s) => [s.name, s.kind]),
    [
      ['meta send', SpanKind.CLIENT],
      ['outbound handle', SpanKind.INTERNAL],
      [`${topic} process`, SpanKind.CONSUMER],
      [`${topic} publish`, SpanKind.PRODUCER],
      ['POST /webhook/genesys', SpanKind.SERVER],
    ],
    'Meta call → step → consumed record → produced record → webhook request, each the parent of the one before',
  )
  const root = chain[chain.length - 1]
  t.equal(root?.parentSpanContext, undefined, 'the webhook request starts the trace')
  t.equal(root?.attributes['http.response.status_code'], 200)
  t.equal(root?.attributes['gwb.tenant_id'], h.tenant.id, 'the request span names the tenant')
  t.equal(root?.attributes['gwb.message_id'], messageId, 'and the message')
  const handle = chain[1]
  t.equal(handle?.attributes['gwb.tenant_id'], h.tenant.id, 'the step span names the tenant')
  t.equal(handle?.attributes['gwb.message_id'], messageId, 'and the message')
  t.equal(handle?.attributes['gwb.outcome'], 'ok')
  t.equal(send.attributes['http.response.status_code'], 200)

  // Attributes carry ids, never a body or a credential.
  const secrets = [text, h.tenant.whatsapp.accessToken, h.tenant.genesys.webhookSecret, h.tenant.genesys.clientSecret]
  const values = inTrace.flatMap((s) => Object.values(s.attributes).map(String))
  for (const secret of secrets)
    t.notOk(
      values.some((v) => v.includes(secret)),
      'no body or secret in any attribute',
    )
})
