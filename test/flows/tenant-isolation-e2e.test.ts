import t from 'tap'
import { randomBytes, randomUUID } from 'node:crypto'
import type { GenesysReceived } from '../../src/fakes/fake-genesys.js'
import { genesysMessageId } from '../../src/fakes/genesys-webhooks.js'
import { statusUpdate } from '../../src/fakes/meta-webhooks.js'
import { signGenesys } from '../../src/fakes/sign.js'
import type { TenantSpec } from '../../src/processors/tenant-spec.js'
import { startHarness, type Harness } from '../helpers/bridge-harness.js'

// Promise 8 of DESIGN.md: tenants are walled off. Each tenant only knows its own secrets, but may
// know (or guess) another tenant's message ids, conversation ids and wamids.

const waIdOf = (): string => `4477${String(randomBytes(4).readUInt32BE(0)).padStart(10, '0')}`

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs
  for (;;) {
    const v = await probe()
    if (v !== undefined) return v
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

/** A Genesys outbound webhook of `tenant`, signed with that tenant's own webhook secret. */
function postAs(h: Harness, tenant: TenantSpec, body: Record<string, unknown>) {
  const raw = JSON.stringify(body)
  return h.postGenesys(body, { raw, signature: signGenesys(raw, tenant.genesys.webhookSecret) })
}

interface Row {
  tenant_id: string
  status: string
  wamid: string | null
  wa_id: string | null
  error_code: string | null
  delivered_at: Date | null
  read_at: Date | null
  failed_at: Date | null
}

async function outboundRows(h: Harness, messageId: string): Promise<Row[]> {
  return h.bridge.resources.sql<Row[]>`
    select tenant_id, status, wamid, wa_id, error_code, delivered_at, read_at, failed_at from message_tracking
    where direction = 'outbound' and genesys_message_id = ${messageId} order by tenant_id`
}

t.test('tenant isolation on the real stack', async (t) => {
  const h = await startHarness()
  t.teardown(() => h.close())
  const a = h.tenant
  const b = await h.newTenant()
  const receiptsOf = (id: string): GenesysReceived[] =>
    h.genesys.received.filter((r) => r.kind === 'receipt' && (r.body as { id?: string }).id === id)

  t.test(
    'two tenants send the same message id in the same conversation id at once: each customer gets its own, once',
    async (t) => {
      const messageId = genesysMessageId()
      const conversationId = randomUUID()
      const customerA = waIdOf()
      const customerB = waIdOf()
      const bodyOf = (tenant: TenantSpec, toId: string, text: string) =>
        h.genesys.buildOutbound({
          id: messageId,
          integrationId: tenant.genesys.integrationId,
          conversationId,
          toId,
          text,
        })
      const [resA, resB] = await Promise.all([
        postAs(h, a, bodyOf(a, customerA, `for A ${messageId}`)),
        postAs(h, b, bodyOf(b, customerB, `for B ${messageId}`)),
      ])
      t.equal(resA.status, 200, resA.body)
      t.equal(resB.status, 200, resB.body)

      const rows = await until('both tracked as sent', async () => {
        const r = await outboundRows(h, messageId)
        return r.length === 2 && r.every((x) => x.status === 'sent') ? r : undefined
      })
      const mine = (text: string) => h.meta.received.filter((r) => r.status === 200 && r.raw.includes(text))
      const gotA = mine(`for A ${messageId}`)
      const gotB = mine(`for B ${messageId}`)
      t.equal(gotA.length, 1, "A's message reached Meta once")
      t.equal(gotB.length, 1, "B's message reached Meta once")
      t.equal(gotA[0]?.phoneNumberId, a.whatsapp.phoneNumberId, "from A's number")
      t.equal(gotB[0]?.phoneNumberId, b.whatsapp.phoneNumberId, "from B's number")
      t.equal(gotA[0]?.token, a.whatsapp.accessToken)
      t.equal(gotB[0]?.token, b.whatsapp.accessToken)
      t.equal((gotA[0]?.body as { to?: string }).to, customerA, "to A's customer")
      t.equal((gotB[0]?.body as { to?: string }).to, customerB, "to B's customer")
      t.same(
        rows.map((r) => [r.tenant_id, r.wa_id, r.wamid]),
        [
          [a.id, customerA, gotA[0]?.wamid],
          [b.id, customerB, gotB[0]?.wamid],
        ].sort((x, y) => String(x[0]).localeCompare(String(y[0]))),
        'one tracking row per tenant, each with its own customer and wamid',
      )

      // The conversation keeps resolving per tenant: a second message of each goes to its own mapped
      // customer (channel.to.id, only used to learn an unknown conversation, names nobody here).
      const again = genesysMessageId()
      const second = (tenant: TenantSpec, text: string) =>
        h.genesys.buildOutbound({
          id: again,
          integrationId: tenant.genesys.integrationId,
          conversationId,
          toId: waIdOf(),
          text,
        })
      t.equal((await postAs(h, b, second(b, `B again ${again}`))).status, 200)
      t.equal((await postAs(h, a, second(a, `A again ${again}`))).status, 200)
      const againB = await h.meta.waitFor((r) => r.status === 200 && r.raw.includes(`B again ${again}`), 20_000)
      const againA = await h.meta.waitFor((r) => r.status === 200 && r.raw.includes(`A again ${again}`), 20_000)
      t.equal((againB.body as { to?: string }).to, customerB, "B's conversation maps to B's customer")
      t.equal((againA.body as { to?: string }).to, customerA, "A's conversation maps to A's customer")
    },
  )

  t.test("B's signed status naming A's wamid changes nothing of A's and sends A's agent no receipt", async (t) => {
    const customer = waIdOf()
    const body = h.genesys.buildOutbound({
      integrationId: a.genesys.integrationId,
      conversationId: randomUUID(),
      toId: customer,
      text: `A's message ${randomUUID()}`,
    })
    const messageId = (body as { id: string }).id
    t.equal((await postAs(h, a, body)).status, 200)
    const [sent] = await until('A sent', async () => {
      const r = await outboundRows(h, messageId)
      return r[0]?.status === 'sent' ? r : undefined
    })
    const wamid = sent?.wamid ?? ''
    t.ok(wamid.startsWith('wamid.'), "A's wamid is tracked")

    // B's own number and B's own app secret: a webhook ingest accepts, as Meta would send B.
    for (const status of ['failed', 'read'] as const) {
      const webhook = h.meta.buildWebhook({
        phoneNumberId: b.whatsapp.phoneNumberId,
        statuses: [
          statusUpdate({
            wamid,
            status,
            recipientId: customer,
            ...(status === 'failed'
              ? { errors: [{ code: 131026, title: 'Message undeliverable', message: 'Message undeliverable' }] }
              : {}),
          }),
        ],
      })
      const res = await h.postMeta(webhook, { tenant: b })
      t.equal(res.status, 200, res.body)
    }
    // Processed as B's: no send of B's has this wamid, so both are parked under B (and never
    // re-driven). Also stops waiting if A's row moves, so a leak fails below, not by a timeout.
    await until("both parked under B, or A's row moved", async () => {
      const parked = await h.bridge.resources.sql`
        select status from pending_statuses where wamid = ${wamid} and payload->>'tenantId' = ${b.id}`
      const [now] = await outboundRows(h, messageId)
      return parked.length === 2 || now?.status !== 'sent' ? true : undefined
    })
    const [after] = await outboundRows(h, messageId)
    t.same(after, sent, "A's row is exactly as it was")
    t.equal(receiptsOf(messageId).length, 0, "A's agent got no receipt")

    // A's own status still works, and is the only receipt A's agent gets.
    const own = h.meta.buildWebhook({
      phoneNumberId: a.whatsapp.phoneNumberId,
      statuses: [statusUpdate({ wamid, status: 'delivered', recipientId: customer })],
    })
    t.equal((await h.postMeta(own)).status, 200)
    const receipt = await h.genesys.waitFor(
      (r) => r.kind === 'receipt' && (r.body as { id?: string }).id === messageId,
      20_000,
    )
    t.equal((receipt.body as { status?: string }).status, 'Delivered')
    t.equal(receipt.integrationId, a.genesys.integrationId, "to A's integration")
    const [delivered] = await outboundRows(h, messageId)
    t.equal(delivered?.status, 'delivered')
    t.equal(delivered?.failed_at, null, "B's failed status left no trace on A's row")
    t.equal(receiptsOf(messageId).length, 1)
  })
})
