import t from 'tap'
import { randomUUID } from 'node:crypto'
import { deadLetterTopic } from '../../src/config/config.js'
import { startHarness, type Harness } from '../helpers/bridge-harness.js'
import { waitForRecord } from '../helpers/topic-reader.js'
import { waitForTracking } from '../helpers/tracking.js'

function outbound(h: Harness, toId: string, text: string, conversationId: string = randomUUID()) {
  const body = h.genesys.buildOutbound({ integrationId: h.tenant.genesys.integrationId, conversationId, toId, text })
  return { body, id: (body as { id: string }).id }
}

t.test('outbound failures are visible, retried or reported as the error code says', async (t) => {
  const h = await startHarness({ MAX_ATTEMPTS: '3', RETRY_BASE_MS: '50', RETRY_MAX_MS: '200' })
  t.teardown(() => h.close())
  const { kafka, codec } = h.bridge.resources
  const topics = h.config.kafka.topics

  t.test('no mapping: an errors-topic record and a Failed receipt at the fake Genesys', async (t) => {
    // channel.to.id is not a wa_id and nothing maps the conversation: no customer to send to.
    const { body, id } = outbound(h, 'ext-user-42', 'to nobody')
    t.equal((await h.postGenesys(body)).status, 200, 'Genesys still gets a 2xx')
    const err = await waitForRecord<'BridgeErrorEvent'>(kafka, codec, topics.errors, (r) => r.messageId === id)
    t.equal(err.code, 'GWB_NO_MAPPING')
    t.equal(err.tenantId, h.tenant.id)
    const receipt = await h.genesys.waitFor((r) => r.kind === 'receipt' && (r.body as { id: string }).id === id, 20_000)
    t.match(receipt.body, { status: 'Failed', isFinalReceipt: true, reasons: [{ code: 'InvalidDestination' }] })
    t.equal(receipt.integrationId, h.tenant.genesys.integrationId)
    t.equal(h.meta.received.filter((r) => r.raw.includes('to nobody')).length, 0, 'nothing sent to Meta')
  })

  t.test('Meta answering 500 twice then 200: sent once', async (t) => {
    const to = '447700900201'
    h.meta.failNext(2, { status: 500 }, { to })
    const { body, id } = outbound(h, to, 'after two 500s')
    t.equal((await h.postGenesys(body)).status, 200)
    const ok = await h.meta.waitFor((r) => r.status === 200 && r.raw.includes('after two 500s'), 20_000)
    t.ok(ok.wamid)
    const attempts = h.meta.received.filter((r) => r.raw.includes('after two 500s'))
    t.same(
      attempts.map((r) => r.status),
      [500, 500, 200],
      'two failures, one success',
    )
    const row = await waitForTracking(h.bridge.resources.sql, id, 'sent')
    t.equal(row.attempts, 3, 'the claim was taken three times: two retries after known failures')
  })

  t.test('Meta 131047: no retry, a Failed receipt with MessageNotAllowed', async (t) => {
    const to = '447700900202'
    h.meta.failNext(1, { metaCode: 131047 }, { to })
    const { body, id } = outbound(h, to, 'outside the window')
    t.equal((await h.postGenesys(body)).status, 200)
    const receipt = await h.genesys.waitFor((r) => r.kind === 'receipt' && (r.body as { id: string }).id === id, 20_000)
    t.match(receipt.body, { status: 'Failed', reasons: [{ code: 'MessageNotAllowed' }] })
    t.match((receipt.body as { reasons: { message: string }[] }).reasons[0]?.message, /131047/)
    const err = await waitForRecord<'BridgeErrorEvent'>(kafka, codec, topics.errors, (r) => r.messageId === id)
    t.equal(err.platformCode, 131047)
    t.equal(h.meta.received.filter((r) => r.raw.includes('outside the window')).length, 1, 'tried once, not retried')
    const rows = await h.bridge.resources
      .sql`select status, error_code from message_tracking where genesys_message_id = ${id}`
    t.equal(rows[0]?.['status'], 'failed')
  })

  t.test('Meta down for longer than the retries: a dead-letter record naming the error', async (t) => {
    const to = '447700900203'
    h.meta.failNext(10, { status: 503 }, { to })
    const { body, id } = outbound(h, to, 'meta is down')
    t.equal((await h.postGenesys(body)).status, 200)
    const dlq = await waitForRecord<'DeadLetter'>(kafka, codec, deadLetterTopic(topics.genesysOutbound), (r) =>
      (r.value?.toString('latin1') ?? '').includes(id),
    )
    t.equal(dlq.code, 'GWB_META_TRANSIENT')
    t.match(dlq.message, /^WhatsApp 131000: /, 'names the Meta error the fake answered the 503 with')
    t.equal(dlq.attempts, 3)
    t.equal(dlq.sourceTopic, topics.genesysOutbound)
    t.equal(dlq.tenantId, h.tenant.id)
    t.equal(h.meta.received.filter((r) => r.raw.includes('meta is down')).length, 3, 'MAX_ATTEMPTS sends, no more')
    t.ok(await waitForTracking(h.bridge.resources.sql, id, 'dead_lettered'), 'tracked as dead-lettered')
  })
})
