import t from 'tap'
import { inboundText, statusUpdate, newWamid } from '../../src/fakes/meta-webhooks.js'
import { startHarness, type Harness } from '../helpers/bridge-harness.js'
import { fetchTopicOffsets } from '../../src/sinks/kafka/offsets.js'

/** High watermarks of the three topics a Meta webhook writes to. */
async function topicCounts(h: Harness): Promise<{ inbound: number; status: number; raw: number }> {
  const admin = h.bridge.resources.kafka.admin()
  await admin.connect()
  try {
    const t = h.config.kafka.topics
    const sum = async (topic: string): Promise<number> =>
      (await fetchTopicOffsets(admin, topic)).reduce((n, p) => n + Number(p.high), 0)
    return { inbound: await sum(t.whatsappInbound), status: await sum(t.whatsappStatus), raw: await sum(t.whatsappRaw) }
  } finally {
    await admin.disconnect()
  }
}

t.test('Meta webhook ingest', async (t) => {
  const h = await startHarness({ ROLES: 'ingest' })
  t.teardown(() => h.close())
  const phone = h.tenant.whatsapp.phoneNumberId
  const webhook = () =>
    h.meta.buildWebhook({
      phoneNumberId: phone,
      messages: [inboundText({ from: '447700900123', body: 'héllo / ünïcode' })],
      statuses: [statusUpdate({ wamid: newWamid(), status: 'delivered', recipientId: '447700900456' })],
    })

  t.test('handshake: the right verify token echoes the challenge as text', async (t) => {
    const q = `hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=${h.tenant.whatsapp.verifyToken}`
    const ok = await h.getMeta(q)
    t.equal(ok.status, 200)
    t.equal(ok.body, '1158201444')
    t.match(ok.contentType, /^text\/plain/)
    const scoped = await h.getMeta(`${q}&tenant=${h.tenant.id}`)
    t.equal(scoped.status, 200)
    t.equal(scoped.body, '1158201444')
  })

  t.test('handshake: a wrong token, a wrong mode or another tenant is refused with 403 JSON', async (t) => {
    const wrong = await h.getMeta('hub.mode=subscribe&hub.challenge=42&hub.verify_token=nope')
    t.equal(wrong.status, 403)
    t.equal(JSON.parse(wrong.body).error, 'verification_failed')
    const mode = await h.getMeta(
      `hub.mode=unsubscribe&hub.challenge=42&hub.verify_token=${h.tenant.whatsapp.verifyToken}`,
    )
    t.equal(mode.status, 403)
    const other = await h.getMeta(
      `hub.mode=subscribe&hub.challenge=42&hub.verify_token=${h.tenant.whatsapp.verifyToken}&tenant=someone-else`,
    )
    t.equal(other.status, 403)
  })

  t.test('refusals put nothing on the topics', async (t) => {
    const before = await topicCounts(h)
    const body = webhook()

    const badSig = await h.postMeta(body, { signature: `sha256=${'0'.repeat(64)}` })
    t.equal(badSig.status, 401)
    t.equal(JSON.parse(badSig.body).error, 'bad_signature')

    // Signed with another tenant's app secret.
    const other = await h.newTenant()
    const wrongSecret = await h.postMeta(body, { tenant: other })
    t.equal(wrongSecret.status, 401)

    const unknown = await h.postMeta(h.meta.buildWebhook({ phoneNumberId: '19999999999999', messages: [] }))
    t.equal(unknown.status, 401, 'an unknown number answers as a bad signature does')
    t.equal(unknown.body, badSig.body)

    const malformed = await h.postMeta(undefined, { raw: '{"object":"whatsapp_business_account","entry":[' })
    t.equal(malformed.status, 400)
    t.equal(JSON.parse(malformed.body).error, 'malformed_payload')

    const inactive = await h.newTenant({ status: 'inactive' })
    const off = await h.postMeta(
      h.meta.buildWebhook({
        phoneNumberId: inactive.whatsapp.phoneNumberId,
        messages: [inboundText({ from: '4477', body: 'x' })],
      }),
      { tenant: inactive },
    )
    t.equal(off.status, 403)
    t.equal(JSON.parse(off.body).error, 'tenant_inactive')

    // One payload spanning two tenants must carry a signature both accept.
    const spanning = webhook()
    const second = h.meta.buildWebhook({
      phoneNumberId: other.whatsapp.phoneNumberId,
      messages: [inboundText({ from: '4478', body: 'y' })],
    })
    ;(spanning.entry as unknown[]).push(...(second.entry as unknown[]))
    const mixed = await h.postMeta(spanning)
    t.equal(mixed.status, 401)

    t.same(await topicCounts(h), before, 'no record was produced')
  })

  t.test('an accepted webhook is on the topics before the 200', async (t) => {
    const before = await topicCounts(h)
    const res = await h.postMeta(webhook())
    t.equal(res.status, 200, res.body)
    t.same(JSON.parse(res.body), { status: 'accepted', messages: 1, statuses: 1 })
    t.same(await topicCounts(h), { inbound: before.inbound + 1, status: before.status + 1, raw: before.raw + 1 })
  })

  t.test('wrong method is 405', async (t) => {
    const { request } = await import('undici')
    const res = await request(`${h.url}/webhook/meta`, { method: 'PUT', body: '{}' })
    t.equal(res.statusCode, 405)
    await res.body.text()
  })
})
