import t from 'tap'
import { randomUUID } from 'node:crypto'
import { outboundEnvelope } from '../../src/processors/outbound-envelope.js'
import { parseGenesysWebhook } from '../../src/processors/parse-genesys-webhook.js'
import { startHarness, type Harness } from '../helpers/bridge-harness.js'
import { waitForTracking } from '../helpers/tracking.js'

/**
 * Issue 12, outbound: sends whose outcome is unknown are settled by the bridge from Meta's own status
 * webhooks (callback data), or resent once after the window; redelivered records do nothing twice.
 * The fake Meta emits signed status webhooks to this bridge's /webhook/meta, as Meta does.
 */

const WINDOW_MS = 4000

function outbound(h: Harness, toId: string, text: string, conversationId: string, attachment?: unknown) {
  const body = h.genesys.buildOutbound({
    integrationId: h.tenant.genesys.integrationId,
    conversationId,
    toId,
    text,
    ...(attachment === undefined ? {} : { attachment }),
  } as Parameters<Harness['genesys']['buildOutbound']>[0])
  return { body, id: (body as { id: string }).id }
}

const accepted = (h: Harness, text: string) => h.meta.received.filter((r) => r.accepted && r.raw.includes(text))

async function settlementCount(h: Harness, outcome: string): Promise<number> {
  const m = h.bridge.resources.metrics.registry.getSingleMetric('gwb_outbound_settlement_total')
  const v = m === undefined ? undefined : (await m.get()).values.find((x) => x.labels['outcome'] === outcome)
  return v?.value ?? 0
}

/** Produces an envelope onto genesys-outbound as ingest would (a redelivered copy, or a replay's resend). */
async function produce(h: Harness, body: unknown, opts: { resendToken?: string }) {
  const payload = Buffer.from(JSON.stringify(body))
  const parsed = parseGenesysWebhook(payload, Number.MAX_SAFE_INTEGER)
  if (!parsed.ok) throw new Error(parsed.reason)
  const { key, env } = outboundEnvelope(parsed.value, {
    tenantId: h.tenant.id,
    receivedAtMs: Date.now(),
    payload,
    resend: opts.resendToken !== undefined,
  })
  const topic = h.config.kafka.topics.genesysOutbound
  const value = h.bridge.resources.codec.encode(topic, { ...env, resendToken: opts.resendToken ?? null })
  await h.bridge.resources.producer.send({ topic, key, value })
}

t.test('outbound sends with an unknown outcome are settled, exactly once', async (t) => {
  const h = await startHarness(
    { META_TIMEOUT_MS: '2000', RECONCILE_WINDOW_MS: String(WINDOW_MS), MAX_ATTEMPTS: '3' },
    { statuses: {} },
  )
  t.teardown(() => h.close())
  const sql = h.bridge.resources.sql

  t.test('a bare 502 after Meta accepted: settled by its status, sent once, the next one after it', async (t) => {
    const to = '447700931001'
    const conv = randomUUID()
    h.meta.failNext(1, { accepted: true, status: 502 }, { to })
    const first = outbound(h, to, 'bare 502 m1', conv)
    const second = outbound(h, to, 'bare 502 m2', conv)
    t.equal((await h.postGenesys(first.body)).status, 200)
    t.equal((await h.postGenesys(second.body)).status, 200)
    const row = await waitForTracking(sql, first.id, 'delivered', 20_000)
    await waitForTracking(sql, second.id, 'delivered', 20_000)
    const sends = accepted(h, 'bare 502 m1')
    t.equal(sends.length, 1, 'Meta got it once: not retried after the 502')
    t.equal(row.wamid, sends[0]?.wamid, 'the wamid comes from the status naming it')
    const order = h.meta.received.filter((r) => r.accepted && r.raw.includes('bare 502 m')).map((r) => r.raw)
    t.ok(order[0]?.includes('m1') && order[1]?.includes('m2'), 'm2 went out after m1')
    t.ok((await settlementCount(h, 'settled_by_status')) >= 1, 'counted as settled by status')
  })

  t.test('a 2xx without a wamid: settled from the status, no Failed receipt', async (t) => {
    const to = '447700931002'
    h.meta.failNext(1, { accepted: true, status: 200, body: { messaging_product: 'whatsapp' } }, { to })
    const m = outbound(h, to, 'no wamid', randomUUID())
    t.equal((await h.postGenesys(m.body)).status, 200)
    const row = await waitForTracking(sql, m.id, 'delivered', 20_000)
    t.equal(row.wamid, accepted(h, 'no wamid')[0]?.wamid)
    t.equal(accepted(h, 'no wamid').length, 1)
    const failed = h.genesys.received.filter(
      (r) => r.kind === 'receipt' && (r.body as { id: string; status: string }).id === m.id && r.raw.includes('Failed'),
    )
    t.same(failed, [], 'the agent is not told it failed')
  })

  t.test('no answer and a failed status: the agent gets its Failed receipt, nothing resent', async (t) => {
    const to = '447700931003'
    h.meta.failNext(1, { accepted: true, drop: true }, { to })
    h.meta.failStatusNext(1, { code: 131026, title: 'Message undeliverable' }, to)
    const m = outbound(h, to, 'no answer then failed', randomUUID())
    t.equal((await h.postGenesys(m.body)).status, 200)
    const receipt = await h.genesys.waitFor(
      (r) => r.kind === 'receipt' && (r.body as { id: string }).id === m.id,
      20_000,
    )
    t.match(receipt.body, { status: 'Failed' })
    await waitForTracking(sql, m.id, 'failed', 10_000)
    t.equal(accepted(h, 'no answer then failed').length, 1, 'not resent')
  })

  t.test('no answer and every status lost: resent once after the window (the residual risk, counted)', async (t) => {
    const to = '447700931004'
    const resentBefore = await settlementCount(h, 'resent')
    h.meta.setStatusWebhooks({ url: `${h.url}/webhook/meta`, lossRate: 1 })
    t.teardown(() => h.meta.setStatusWebhooks({ url: `${h.url}/webhook/meta` }))
    h.meta.failNext(1, { accepted: true, drop: true }, { to })
    const m = outbound(h, to, 'lost statuses', randomUUID())
    const posted = Date.now()
    t.equal((await h.postGenesys(m.body)).status, 200)
    await h.meta.waitForCount(2, (r) => r.accepted && r.raw.includes('lost statuses'), 30_000)
    t.ok(Date.now() - posted >= WINDOW_MS - 500, 'the resend waited for the window')
    const row = await waitForTracking(sql, m.id, 'sent', 10_000)
    t.equal(row.wamid, accepted(h, 'lost statuses')[1]?.wamid, 'the resend recorded its wamid')
    const rows = await sql`select resent_at from message_tracking where genesys_message_id = ${m.id}`
    t.ok(rows[0]?.['resent_at'], 'the resend is recorded on the row')
    t.equal((await settlementCount(h, 'resent')) - resentBefore, 1, 'gwb_outbound_settlement_total{outcome="resent"}')
  })

  t.test('statuses later than the window: resent, and the late status of the first copy is counted', async (t) => {
    const to = '447700931007'
    const lateBefore = await settlementCount(h, 'late_status_of_resent')
    h.meta.setStatusWebhooks({ url: `${h.url}/webhook/meta`, delay: { fixedMs: WINDOW_MS + 2000 } })
    t.teardown(() => h.meta.setStatusWebhooks({ url: `${h.url}/webhook/meta` }))
    h.meta.failNext(1, { accepted: true, drop: true }, { to })
    const m = outbound(h, to, 'late statuses', randomUUID())
    t.equal((await h.postGenesys(m.body)).status, 200)
    const [first] = await h.meta.waitForCount(2, (r) => r.accepted && r.raw.includes('late statuses'), 30_000)
    await h.meta.waitForStatus((s) => s.wamid === first?.wamid && s.status === 'sent', 30_000)
    const deadline = Date.now() + 20_000
    while ((await settlementCount(h, 'late_status_of_resent')) === lateBefore && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100))
    }
    t.equal(
      (await settlementCount(h, 'late_status_of_resent')) - lateBefore,
      1,
      'the duplicate is counted: gwb_outbound_settlement_total{outcome="late_status_of_resent"}',
    )
  })

  t.test('a resend record delivered twice (same token) sends once more, not twice', async (t) => {
    const to = '447700931005'
    const conv = randomUUID()
    const m = outbound(h, to, 'resend me', conv)
    t.equal((await h.postGenesys(m.body)).status, 200)
    await waitForTracking(sql, m.id, 'delivered', 20_000)
    const token = randomUUID()
    await produce(h, m.body, { resendToken: token })
    await produce(h, m.body, { resendToken: token })
    // Same key, so the marker runs after both copies.
    const marker = outbound(h, to, 'resend marker', conv)
    await produce(h, marker.body, {})
    await h.meta.waitFor((r) => r.accepted && r.raw.includes('resend marker'), 20_000)
    t.equal(accepted(h, 'resend me').length, 2, 'the original and one resend')
  })

  t.test('a sent media message redelivered while its media now fails: no Failed receipt', async (t) => {
    const to = '447700931006'
    const conv = randomUUID()
    const url = h.genesys.addDownload(Buffer.from('%PDF-1.4 test'), 'application/pdf', { filename: 'a.pdf' })
    const m = outbound(h, to, 'media once', conv, {
      url,
      mime: 'application/pdf',
      mediaType: 'File',
      filename: 'a.pdf',
    })
    t.equal((await h.postGenesys(m.body)).status, 200)
    await waitForTracking(sql, m.id, 'delivered', 20_000)
    h.genesys.failNext(20, { status: 404 }, { kind: 'download' })
    await produce(h, m.body, {})
    const marker = outbound(h, to, 'media marker', conv)
    await produce(h, marker.body, {})
    await h.meta.waitFor((r) => r.accepted && r.raw.includes('media marker'), 20_000)
    const receipts = h.genesys.received.filter((r) => r.kind === 'receipt' && (r.body as { id: string }).id === m.id)
    t.notOk(
      receipts.some((r) => r.raw.includes('"Failed"')),
      'no Failed receipt for a message already sent',
    )
    t.equal(accepted(h, 'media once').length, 1)
  })
})
