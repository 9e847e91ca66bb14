import t from 'tap'
import { randomBytes, randomUUID } from 'node:crypto'
import type { GenesysReceived } from '../../src/fakes/fake-genesys.js'
import { newWamid, statusUpdate, type StatusError } from '../../src/fakes/meta-webhooks.js'
import { startHarness, type Harness } from '../helpers/bridge-harness.js'

const waIdOf = (): string => `4477${String(randomBytes(4).readUInt32BE(0)).padStart(10, '0')}`

type Receipt = { id: string; status: string; isFinalReceipt: boolean; reasons?: { code: string; message: string }[] }
const receiptOf = (r: GenesysReceived): Receipt => r.body as Receipt

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs
  for (;;) {
    const v = await probe()
    if (v !== undefined) return v
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

async function insertSent(h: Harness, waId: string, wamid: string): Promise<string> {
  const id = randomUUID().replace(/-/g, '')
  await h.bridge.resources.sql`
    insert into message_tracking (tenant_id, direction, genesys_message_id, wamid, wa_id, status, sent_at)
    values (${h.tenant.id}, 'outbound', ${id}, ${wamid}, ${waId}, 'sent', now())`
  return id
}

async function rowOf(h: Harness, wamid: string) {
  const rows = await h.bridge.resources.sql<
    { status: string; error_code: string | null; delivered_at: Date | null; read_at: Date | null }[]
  >`select status, error_code, delivered_at, read_at from message_tracking where direction = 'outbound' and wamid = ${wamid}`
  return rows[0]
}

function postStatus(
  h: Harness,
  s: { wamid: string; status: 'sent' | 'delivered' | 'read' | 'failed'; waId: string; errors?: StatusError[] },
) {
  return h.postMeta(
    h.meta.buildWebhook({
      phoneNumberId: h.tenant.whatsapp.phoneNumberId,
      statuses: [
        statusUpdate({
          wamid: s.wamid,
          status: s.status,
          recipientId: s.waId,
          ...(s.errors ? { errors: s.errors } : {}),
        }),
      ],
    }),
  )
}

t.test('status flow end to end', async (t) => {
  const h = await startHarness()
  t.teardown(() => h.close())
  const receiptsFor = (id: string) => h.genesys.received.filter((r) => r.kind === 'receipt' && receiptOf(r).id === id)

  t.test('read before delivered leaves read, with one Delivered receipt', async (t) => {
    const waId = waIdOf()
    const wamid = newWamid()
    const id = await insertSent(h, waId, wamid)
    t.equal((await postStatus(h, { wamid, status: 'read', waId })).status, 200)
    await until('read', async () => ((await rowOf(h, wamid))?.status === 'read' ? true : undefined))
    t.equal((await postStatus(h, { wamid, status: 'delivered', waId })).status, 200)
    await until('delivered_at filled', async () => ((await rowOf(h, wamid))?.delivered_at ? true : undefined))
    const row = await rowOf(h, wamid)
    t.equal(row?.status, 'read', 'a late delivered does not move it back')
    const got = await h.genesys.waitFor((r) => r.kind === 'receipt' && receiptOf(r).id === id, 20_000)
    t.equal(receiptOf(got).status, 'Delivered')
    t.equal(receiptOf(got).isFinalReceipt, false)
    t.equal(receiptsFor(id).length, 1)
  })

  t.test('failed with 131026 leaves failed and sends a Failed receipt (InvalidDestination)', async (t) => {
    const waId = waIdOf()
    const wamid = newWamid()
    const id = await insertSent(h, waId, wamid)
    const res = await postStatus(h, {
      wamid,
      status: 'failed',
      waId,
      errors: [
        { code: 131026, title: 'Message undeliverable', details: 'Receiver is incapable of receiving this message' },
      ],
    })
    t.equal(res.status, 200)
    const got = await h.genesys.waitFor((r) => r.kind === 'receipt' && receiptOf(r).id === id, 20_000)
    const receipt = receiptOf(got)
    t.equal(receipt.status, 'Failed')
    t.equal(receipt.isFinalReceipt, true)
    t.equal(receipt.reasons?.[0]?.code, 'InvalidDestination')
    t.match(receipt.reasons?.[0]?.message, /131026/)
    const row = await rowOf(h, wamid)
    t.equal(row?.status, 'failed')
    t.equal(row?.error_code, '131026')
  })

  t.test('a status that arrives before its send is recorded is applied once the send is', async (t) => {
    const waId = waIdOf()
    const wamid = newWamid()
    t.equal((await postStatus(h, { wamid, status: 'delivered', waId })).status, 200)
    const sql = h.bridge.resources.sql
    await until('parked', async () => {
      const rows = await sql`select 1 from pending_statuses where wamid = ${wamid}`
      return rows.length > 0 ? true : undefined
    })
    const id = await insertSent(h, waId, wamid)
    const got = await h.genesys.waitFor((r) => r.kind === 'receipt' && receiptOf(r).id === id, 20_000)
    t.equal(receiptOf(got).status, 'Delivered')
    t.equal((await rowOf(h, wamid))?.status, 'delivered')
    t.equal((await sql`select 1 from pending_statuses where wamid = ${wamid}`).length, 0, 'no longer pending')
  })

  t.test('Genesys 429 on a receipt is retried and the receipt delivered once', async (t) => {
    const waId = waIdOf()
    const wamid = newWamid()
    const id = await insertSent(h, waId, wamid)
    h.genesys.failNext(1, { status: 429, retryAfterSeconds: 1 }, { kind: 'receipt' })
    t.equal((await postStatus(h, { wamid, status: 'delivered', waId })).status, 200)
    await h.genesys.waitFor((r) => r.kind === 'receipt' && r.status === 200 && receiptOf(r).id === id, 20_000)
    t.same(
      receiptsFor(id).map((r) => r.status),
      [429, 200],
    )
  })
})
