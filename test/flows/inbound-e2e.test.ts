import t from 'tap'
import { randomBytes, randomUUID } from 'node:crypto'
import { inboundMedia, inboundText, metaJson, newWamid, statusUpdate } from '../../src/fakes/meta-webhooks.js'
import { waitArchived } from '../helpers/archive.js'
import type { GenesysReceived } from '../../src/fakes/fake-genesys.js'
import type { TenantSpec } from '../../src/processors/tenant-spec.js'
import { startHarness, type Harness } from '../helpers/bridge-harness.js'
import { fetchTopicOffsets } from '../../src/sinks/kafka/offsets.js'
import { BUCKETS } from '../../src/processors/object-keys.js'

type Body = { channel: { messageId: string; from: { id: string } }; text?: string; content?: unknown[] }
const bodyOf = (r: GenesysReceived): Body => r.body as Body
const waIdOf = (): string => `4477${String(randomBytes(4).readUInt32BE(0)).padStart(10, '0')}`

/** A sent outbound message the status webhooks can refer to. */
async function trackedSend(h: Harness, tenant: TenantSpec, waId: string): Promise<{ wamid: string; id: string }> {
  const wamid = newWamid()
  const id = randomUUID().replace(/-/g, '')
  await h.bridge.resources.sql`
    insert into message_tracking (tenant_id, direction, genesys_message_id, wamid, wa_id, status, sent_at)
    values (${tenant.id}, 'outbound', ${id}, ${wamid}, ${waId}, 'sent', now())`
  return { wamid, id }
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs
  for (;;) {
    const v = await probe()
    if (v !== undefined) return v
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

/** Waits until the role's consumer group has committed every record of the topic. */
async function consumed(h: Harness, role: string, topic: string): Promise<void> {
  const admin = h.bridge.resources.kafka.admin()
  await admin.connect()
  try {
    await until(`${role} group caught up`, async () => {
      const groupId = `${h.config.kafka.groupPrefix}${role}`
      const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] })
      const high = await fetchTopicOffsets(admin, topic)
      const committed = (offsets?.partitions ?? []).reduce((n, p) => n + Math.max(0, Number(p.offset)), 0)
      return committed === high.reduce((n, p) => n + Number(p.high), 0) ? true : undefined
    })
  } finally {
    await admin.disconnect()
  }
}

t.test('inbound flow end to end', async (t) => {
  const h = await startHarness()
  t.teardown(() => h.close())

  t.test('a batch of 3 messages and 4 statuses from two customers, delivered twice', async (t) => {
    const tenant = await h.newTenant()
    const [ann, bob] = [waIdOf(), waIdOf()]
    const sends = [await trackedSend(h, tenant, ann), await trackedSend(h, tenant, bob)]
    const [s1, s2] = sends as [{ wamid: string; id: string }, { wamid: string; id: string }]
    const t0 = Date.now() - 60_000
    const payload = h.meta.buildWebhook({
      phoneNumberId: tenant.whatsapp.phoneNumberId,
      messages: [
        inboundText({ from: ann, body: 'ann 1', timeMs: t0 }),
        inboundText({ from: bob, body: 'bob 1', timeMs: t0 + 1000 }),
        inboundText({ from: ann, body: 'ann 2', timeMs: t0 + 2000 }),
      ],
      statuses: [
        statusUpdate({ wamid: s1.wamid, status: 'delivered', recipientId: ann, timeMs: t0 }),
        statusUpdate({ wamid: s2.wamid, status: 'delivered', recipientId: bob, timeMs: t0 }),
        statusUpdate({ wamid: s1.wamid, status: 'read', recipientId: ann, timeMs: t0 + 1000 }),
        statusUpdate({ wamid: s2.wamid, status: 'read', recipientId: bob, timeMs: t0 + 1000 }),
      ],
    })
    const res = await h.postMeta(payload, { tenant })
    t.equal(res.status, 200, res.body)

    const ofTenant = (r: GenesysReceived) => r.integrationId === tenant.genesys.integrationId && r.status === 200
    const messages = await h.genesys.waitForCount(3, (r) => ofTenant(r) && r.kind === 'message', 20_000)
    const textsOf = (waId: string) =>
      messages.filter((r) => bodyOf(r).channel.from.id === waId).map((r) => bodyOf(r).text)
    t.same(textsOf(ann), ['ann 1', 'ann 2'], 'in order per customer')
    t.same(textsOf(bob), ['bob 1'])

    const sql = h.bridge.resources.sql
    const statusOf = async (wamid: string) =>
      (
        await sql<
          { status: string }[]
        >`select status from message_tracking where direction = 'outbound' and wamid = ${wamid}`
      )[0]?.status
    await until('both statuses read', async () =>
      (await statusOf(s1.wamid)) === 'read' && (await statusOf(s2.wamid)) === 'read' ? true : undefined,
    )
    // delivered gives a Delivered receipt; the read after it gives none (Genesys takes only Delivered/Failed).
    const receipts = await h.genesys.waitForCount(2, (r) => ofTenant(r) && r.kind === 'receipt', 20_000)
    t.same(receipts.map((r) => (r.body as { id: string; status: string }).id).sort(), [s1.id, s2.id].sort())
    t.ok(receipts.every((r) => (r.body as { status: string }).status === 'Delivered'))

    // Tracking writes are batched: the row is recorded just after Genesys answered, so poll briefly.
    let inboundRows: { wamid: string; status: string; genesys_message_id: string | null }[] = []
    for (let i = 0; i < 100; i++) {
      inboundRows = await sql<{ wamid: string; status: string; genesys_message_id: string | null }[]>`
        select wamid, status, genesys_message_id from message_tracking where tenant_id = ${tenant.id} and direction = 'inbound'`
      if (inboundRows.length === 3 && inboundRows.every((r) => r.status === 'sent')) break
      await new Promise((r) => setTimeout(r, 100))
    }
    t.equal(inboundRows.length, 3)
    t.ok(
      inboundRows.every((r) => r.status === 'sent' && r.genesys_message_id !== null),
      'tracked with the Genesys id',
    )

    // The same webhook again (Meta is at-least-once): nothing new reaches Genesys. A marker message
    // from a third customer, sent after it, shows the redelivery has been processed.
    const again = await h.postMeta(payload, { tenant })
    t.equal(again.status, 200)
    const marker = waIdOf()
    const m = await h.postMeta(
      h.meta.buildWebhook({
        phoneNumberId: tenant.whatsapp.phoneNumberId,
        messages: [inboundText({ from: marker, body: 'marker' })],
      }),
      { tenant },
    )
    t.equal(m.status, 200)
    await h.genesys.waitFor((r) => ofTenant(r) && r.kind === 'message' && bodyOf(r).channel.from.id === marker, 20_000)
    // Both consumer groups have committed everything on their topics: the duplicates were handled.
    await consumed(h, 'inbound', h.config.kafka.topics.whatsappInbound)
    await consumed(h, 'status', h.config.kafka.topics.whatsappStatus)
    const all = h.genesys.received.filter(ofTenant)
    t.equal(all.filter((r) => r.kind === 'message').length, 4, 'three messages and the marker, no duplicate')
    t.equal(all.filter((r) => r.kind === 'receipt').length, 2, 'no extra receipt')
  })

  t.test('an inbound image reaches Genesys as a link to the same bytes', async (t) => {
    // A JPEG's signature, so the stored object keeps its type (media-type.ts checks the bytes).
    const bytes = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), randomBytes(20_000)])
    const mediaId = h.meta.addMedia(h.tenant.whatsapp.phoneNumberId, bytes, 'image/jpeg')
    const waId = waIdOf()
    const res = await h.postMeta(
      h.meta.buildWebhook({
        phoneNumberId: h.tenant.whatsapp.phoneNumberId,
        messages: [inboundMedia({ from: waId, type: 'image', mediaId, mimeType: 'image/jpeg', caption: 'the damage' })],
      }),
    )
    t.equal(res.status, 200, res.body)
    const got = await h.genesys.waitFor(
      (r) => r.kind === 'message' && bodyOf(r).channel.from.id === waId && r.urlStatus !== undefined,
      20_000,
    )
    const attachment = (got.body as { content: { attachment: { mediaType: string; mime: string; url: string } }[] })
      .content[0]?.attachment
    t.equal(attachment?.mediaType, 'Image')
    t.equal(attachment?.mime, 'image/jpeg')
    t.equal(bodyOf(got).text, 'the damage')
    t.equal(got.urlStatus, 200, got.urlError ?? 'link fetched')
    t.ok(got.urlBody?.equals(bytes), 'Genesys fetched exactly the bytes Meta served')
  })

  t.test("a customer's first message, then the agent's reply reaches that customer", async (t) => {
    const waId = waIdOf()
    const res = await h.postMeta(
      h.meta.buildWebhook({
        phoneNumberId: h.tenant.whatsapp.phoneNumberId,
        messages: [inboundText({ from: waId, body: 'hi, first time here' })],
      }),
    )
    t.equal(res.status, 200)
    await h.genesys.waitFor((r) => r.kind === 'message' && bodyOf(r).channel.from.id === waId, 20_000)

    // Genesys answers the agent's reply with channel.to.id = the customer id we sent inbound.
    const conversationId = randomUUID()
    const reply = h.genesys.buildOutbound({
      integrationId: h.tenant.genesys.integrationId,
      conversationId,
      toId: waId,
      text: 'Hello! How can we help?',
    })
    t.equal((await h.postGenesys(reply)).status, 200)
    const sent = await h.meta.waitFor((r) => r.status === 200 && (r.body as { to?: string }).to === waId, 20_000)
    t.equal((sent.body as { text: { body: string } }).text.body, 'Hello! How can we help?')
    const mapping = await h.bridge.resources.mappings.byWa(h.tenant.id, waId)
    t.equal(mapping?.conversationId, conversationId, 'the conversation is mapped to the customer')

    // The customer's next message goes to the same conversation's customer; the mapping stays.
    await h.postMeta(
      h.meta.buildWebhook({
        phoneNumberId: h.tenant.whatsapp.phoneNumberId,
        messages: [inboundText({ from: waId, body: 'thanks' })],
      }),
    )
    await h.genesys.waitFor((r) => r.kind === 'message' && bodyOf(r).text === 'thanks', 20_000)
    t.equal((await h.bridge.resources.mappings.byWa(h.tenant.id, waId))?.conversationId, conversationId)
  })

  t.test('the raw webhook is archived byte for byte under webhooks-inbound', async (t) => {
    const tenant = await h.newTenant()
    const raw = metaJson(
      h.meta.buildWebhook({
        phoneNumberId: tenant.whatsapp.phoneNumberId,
        messages: [inboundText({ from: waIdOf(), body: 'caf\u00e9 \u2615 / archive me' })],
      }),
    )
    t.equal((await h.postMeta(undefined, { raw, tenant })).status, 200)
    const archived = await waitArchived(h.bridge.resources.store, BUCKETS.webhooksInbound, tenant.id, () => true)
    t.equal(archived.length, 1, 'one archived webhook')
    t.match(archived[0]?.key, `${tenant.id}/`, "under the tenant's prefix")
    t.equal(archived[0]?.payload.toString('utf8'), raw, 'the raw bytes exactly')
  })

  t.test('Genesys 429 with Retry-After: 2 is retried no sooner and delivered once', async (t) => {
    const tenant = await h.newTenant()
    h.genesys.failNext(
      1,
      { status: 429, retryAfterSeconds: 2 },
      { kind: 'message', integrationId: tenant.genesys.integrationId },
    )
    const waId = waIdOf()
    const wamid = newWamid()
    const res = await h.postMeta(
      h.meta.buildWebhook({
        phoneNumberId: tenant.whatsapp.phoneNumberId,
        messages: [inboundText({ from: waId, id: wamid, body: 'are you there?' })],
      }),
      { tenant },
    )
    t.equal(res.status, 200)
    const ok = await h.genesys.waitFor(
      (r) => r.kind === 'message' && r.status === 200 && bodyOf(r).channel.messageId === wamid,
      20_000,
    )
    const tries = h.genesys.received.filter((r) => r.kind === 'message' && bodyOf(r).channel.messageId === wamid)
    t.same(
      tries.map((r) => r.status),
      [429, 200],
    )
    const first = tries[0] as GenesysReceived
    t.ok(ok.arrivedAt - first.arrivedAt >= 2000, `retried ${Math.round(ok.arrivedAt - first.arrivedAt)} ms later`)
  })
})
