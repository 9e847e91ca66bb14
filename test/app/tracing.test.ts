import t from 'tap'
import { randomUUID } from 'node:crypto'
import { SpanKind } from '@opentelemetry/api'
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base'
import { startBridge } from '../../src/app/bridge.js'
import { deadLetters } from '../../src/cli/commands/dead-letters.js'
import { collector } from '../../src/cli/io.js'
import { startTracing } from '../../src/app/tracing.js'
import { deadLetterTopic, loadConfig } from '../../src/config/config.js'
import { startHarness } from '../helpers/bridge-harness.js'
import { testEnv, testLog } from '../helpers/stack.js'
import { waitForMessage } from '../helpers/topic-reader.js'

// Both roles run in this one test process: an ingest bridge and an outbound bridge, each with its
// own Kafka clients, consumer group and HTTP server. The in-memory exporter is the process's, so it
// sees the spans of both; what links them is only what travels in the Kafka records' headers.
const exporter = new InMemorySpanExporter()
const tracing = startTracing(loadConfig(testEnv()).tracing, { processor: new SimpleSpanProcessor(exporter) })
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

/**
 * From a span up to its root through parent span ids, the span itself first. A parent ends after
 * its children (a step after the record it produced), so each is waited for.
 */
async function chainOf(span: ReadableSpan): Promise<ReadableSpan[]> {
  const traceId = span.spanContext().traceId
  const chain = [span]
  for (let cur = span; cur.parentSpanContext !== undefined;) {
    const parentId = cur.parentSpanContext.spanId
    cur = await waitForSpan((s) => s.spanContext().traceId === traceId && s.spanContext().spanId === parentId)
    chain.push(cur)
  }
  return chain
}
const shape = (chain: ReadableSpan[]): [string, SpanKind][] => chain.map((s) => [s.name, s.kind])

/** The span a record's traceparent names (version-traceid-spanid-flags). */
function spanOfTraceparent(traceparent: string | undefined): Promise<ReadableSpan> {
  const m = /^00-([0-9a-f]{32})-([0-9a-f]{16})-0[01]$/.exec(traceparent ?? '')
  if (m === null) throw new Error(`no W3C traceparent: ${traceparent}`)
  return waitForSpan((s) => s.spanContext().traceId === m[1] && s.spanContext().spanId === m[2])
}

t.test('traces from the webhook across Kafka', async (t) => {
  const h = await startHarness({ ROLES: 'ingest' })
  t.teardown(() => h.close())
  const outbound = await startBridge(loadConfig({ ...h.env, ROLES: 'outbound', MAX_ATTEMPTS: '2' }), testLog)
  t.teardown(() => outbound.stop())
  const topics = h.config.kafka.topics
  const { kafka, codec } = h.bridge.resources
  const post = async (to: string, text: string): Promise<string> => {
    const body = h.genesys.buildOutbound({
      integrationId: h.tenant.genesys.integrationId,
      conversationId: randomUUID(),
      toId: to,
      text,
    })
    t.equal((await h.postGenesys(body)).status, 200)
    return (body as { id: string }).id
  }
  const request = ['POST /webhook/genesys', SpanKind.SERVER] as const
  const consumed = (topic: string): [string, SpanKind][] => [
    [`${topic} process`, SpanKind.CONSUMER],
    [`${topic} publish`, SpanKind.PRODUCER],
    [...request],
  ]

  t.test('one webhook: one connected trace from the HTTP request to the Meta call', async (t) => {
    const text = `trace me ${randomUUID()}`
    const messageId = await post('447700900123', text)
    await h.meta.waitFor((r) => r.status === 200 && r.raw.includes(text), 30_000)

    const traceId = (await waitForSpan((s) => s.attributes['gwb.message_id'] === messageId)).spanContext().traceId
    const send = await waitForSpan((s) => s.name === 'meta send' && s.spanContext().traceId === traceId)
    const chain = await chainOf(send)
    t.same(
      shape(chain),
      [
        ['meta send', SpanKind.CLIENT],
        ['outbound send', SpanKind.INTERNAL],
        ['outbound handle', SpanKind.INTERNAL],
        ...consumed(topics.genesysOutbound),
      ],
      'Meta call → send step → record handling → consumed record → produced record → webhook request, each the parent of the one before',
    )
    const root = chain[chain.length - 1]
    t.equal(root?.parentSpanContext, undefined, 'the webhook request starts the trace')
    t.equal(root?.attributes['http.response.status_code'], 200)
    t.equal(root?.attributes['gwb.tenant_id'], h.tenant.id, 'the request span names the tenant')
    t.equal(root?.attributes['gwb.message_id'], messageId, 'and the message')
    const handle = chain[2]
    t.equal(handle?.attributes['gwb.tenant_id'], h.tenant.id, 'the step span names the tenant')
    t.equal(handle?.attributes['gwb.message_id'], messageId, 'and the message')
    t.equal(handle?.attributes['gwb.outcome'], 'ok')
    t.equal(send.attributes['http.response.status_code'], 200)

    // Attributes carry ids, never a body or a credential.
    const inTrace = exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId)
    const values = inTrace.flatMap((s) => Object.values(s.attributes).map(String))
    for (const secret of [text, h.tenant.whatsapp.accessToken, h.tenant.genesys.webhookSecret]) {
      t.notOk(
        values.some((v) => v.includes(secret)),
        'no body or secret in any attribute',
      )
    }
  })

  t.test('an error event carries the trace of the webhook that caused it', async (t) => {
    const to = '447700900202'
    h.meta.failNext(1, { metaCode: 131047 }, { to })
    const id = await post(to, `outside the window ${randomUUID()}`)
    const { headers } = await waitForMessage<'BridgeErrorEvent'>(kafka, codec, topics.errors, (r) => r.messageId === id)
    const chain = await chainOf(await spanOfTraceparent(headers['traceparent']))
    t.same(
      shape(chain),
      [
        [`${topics.errors} publish`, SpanKind.PRODUCER],
        ['failure', SpanKind.INTERNAL],
        ...consumed(topics.genesysOutbound),
      ],
      'the errors record was produced inside the failure step of the record the webhook produced',
    )
    t.equal(chain[chain.length - 1]?.attributes['gwb.message_id'], id)
  })

  t.test('a dead letter carries the trace of the webhook, after the retries', async (t) => {
    const to = '447700900203'
    // MAX_ATTEMPTS is 2: both attempts fail, the re-drive below succeeds.
    h.meta.failNext(2, { status: 503 }, { to })
    const id = await post(to, `meta is down ${randomUUID()}`)
    const { headers } = await waitForMessage<'DeadLetter'>(kafka, codec, deadLetterTopic(topics.genesysOutbound), (r) =>
      (r.value?.toString('latin1') ?? '').includes(id),
    )
    const chain = await chainOf(await spanOfTraceparent(headers['traceparent']))
    t.same(
      shape(chain),
      [
        [`${deadLetterTopic(topics.genesysOutbound)} publish`, SpanKind.PRODUCER],
        ['dead-letter', SpanKind.INTERNAL],
        ...consumed(topics.genesysOutbound),
      ],
      'the dead letter was produced inside the dead-letter step of the record the webhook produced',
    )
    const attempts = exporter
      .getFinishedSpans()
      .filter((s) => s.name === 'outbound handle' && s.parentSpanContext?.spanId === chain[2]?.spanContext().spanId)
    t.same(
      attempts.map((s) => [s.attributes['gwb.attempt'], s.attributes['gwb.outcome']]),
      [
        [1, 'retry'],
        [2, 'retry'],
      ],
      'each attempt a span of its own inside the record',
    )

    // Re-driven by the operator: the record sent again continues the same trace down to Meta.
    await deadLetters(h.config, ['redrive', '--topic', 'genesys-outbound', '--all'], collector())
    const traceId = chain[0]?.spanContext().traceId
    const resend = await waitForSpan(
      (s) =>
        s.name === 'meta send' &&
        s.spanContext().traceId === traceId &&
        s.attributes['http.response.status_code'] === 200,
    )
    t.same(
      shape(await chainOf(resend)).slice(0, 6),
      [
        ['meta send', SpanKind.CLIENT],
        ['outbound send', SpanKind.INTERNAL],
        ['outbound handle', SpanKind.INTERNAL],
        [`${topics.genesysOutbound} process`, SpanKind.CONSUMER],
        [`${topics.genesysOutbound} publish`, SpanKind.PRODUCER],
        [`${deadLetterTopic(topics.genesysOutbound)} publish`, SpanKind.PRODUCER],
      ],
      'the re-driven record is produced as a child of the dead letter, and sent to Meta in its trace',
    )
  })
})
