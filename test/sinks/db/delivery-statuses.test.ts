import t from 'tap'
import type { OwedStatusReceipt } from '../../../src/processors/status-transition.js'
import type { Sql } from '../../../src/sinks/db/client.js'
import {
  applyStatuses,
  clearOwedStatusReceipt,
  createOwedReceiptClearer,
  type StatusInput,
} from '../../../src/sinks/db/delivery-statuses.js'
import { expireTrackingRows } from '../../../src/sinks/db/tracking-rows.js'
import { createTestDb } from '../../helpers/db.js'
import { seedTenant } from '../../helpers/tenants.js'

// The receipt a status calls for is owed from the status write (same statement) until cleared.

const TENANT = 'acme'
const t0 = new Date('2026-01-01T10:00:00Z')
const at = (s: number) => new Date(t0.getTime() + s * 1000)
const delivered = (s: number): OwedStatusReceipt => ({ status: 'Delivered', time: at(s).toISOString() })
const failed = (s: number): OwedStatusReceipt => ({
  status: 'Failed',
  time: at(s).toISOString(),
  reason: 'InvalidDestination',
  message: 'WhatsApp 131026: undeliverable',
})

async function sent(sql: Sql, wamid: string): Promise<void> {
  await sql`
    insert into message_tracking (tenant_id, direction, genesys_message_id, wamid, wa_id, status, sent_at, created_at)
    values (${TENANT}, 'outbound', ${`g-${wamid}`}, ${wamid}, '447700900003', 'sent', ${t0}, ${t0})`
}

async function apply(sql: Sql, wamid: string, status: StatusInput['status'], s: number, due?: OwedStatusReceipt) {
  const [out] = await applyStatuses(sql, [
    { tenantId: TENANT, wamid, status, at: at(s), ...(due === undefined ? {} : { receiptDue: due }) },
  ])
  if (out === undefined) throw new Error('no outcome')
  return out
}

const owedOn = async (sql: Sql, wamid: string) =>
  (await sql<{ owed: unknown }[]>`select status_receipt_owed as owed from message_tracking where wamid = ${wamid}`)[0]
    ?.owed

t.test('status receipts owed on the row', async (t) => {
  const db = await createTestDb()
  t.teardown(db.drop)
  const { sql } = db
  await seedTenant(sql, TENANT)
  const ref = (wamid: string) => ({ tenantId: TENANT, wamid })

  t.test('recorded with the move, returned by every later write until cleared', async (t) => {
    await sent(sql, 'w.1')
    const first = await apply(sql, 'w.1', 'delivered', 1, delivered(1))
    t.match(first, { changed: true, current: 'delivered' })
    t.same(first.receiptOwed, delivered(1), 'the write that moved the row records its receipt')
    t.same(await owedOn(sql, 'w.1'), delivered(1), 'on the row, in the same statement')

    const again = await apply(sql, 'w.1', 'delivered', 1, delivered(1))
    t.match(again, { changed: false })
    t.same(again.receiptOwed, delivered(1), 'a redelivered status finds the debt')

    const read = await apply(sql, 'w.1', 'read', 5, delivered(5))
    t.match(read, { changed: true, current: 'read' })
    t.same(read.receiptOwed, delivered(1), 'read after delivered owes nothing new; the unpaid Delivered stays')

    await clearOwedStatusReceipt(sql, ref('w.1'), delivered(1))
    t.equal(await owedOn(sql, 'w.1'), null, 'cleared')
    t.equal((await apply(sql, 'w.1', 'read', 5, delivered(5))).receiptOwed, undefined, 'a redelivery after: none')
  })

  t.test('only a forward move of a status that calls for one records a debt', async (t) => {
    await sent(sql, 'w.2')
    t.equal((await apply(sql, 'w.2', 'sent', 1)).receiptOwed, undefined, 'sent calls for none')
    t.same(
      (await apply(sql, 'w.2', 'read', 2, delivered(2))).receiptOwed,
      delivered(2),
      'read first counts as Delivered',
    )
    await clearOwedStatusReceipt(sql, ref('w.2'), delivered(2))
    const late = await apply(sql, 'w.2', 'failed', 3, failed(3))
    t.match(late, { changed: false, current: 'read' })
    t.equal(late.receiptOwed, undefined, 'failed after read does not move the row: nothing owed')
  })

  t.test('a newer receipt replaces an unpaid older one; a stale payer cannot clear it', async (t) => {
    await sent(sql, 'w.3')
    await apply(sql, 'w.3', 'delivered', 1, delivered(1))
    const f = await apply(sql, 'w.3', 'failed', 2, failed(2))
    t.match(f, { changed: true, current: 'failed' })
    t.same(f.receiptOwed, failed(2), 'the Failed receipt is owed now, not the Delivered one')
    await clearOwedStatusReceipt(sql, ref('w.3'), delivered(1))
    t.same(await owedOn(sql, 'w.3'), failed(2), 'paying the superseded Delivered leaves the Failed owed')
    await clearOwedStatusReceipt(sql, { tenantId: 'beta', wamid: 'w.3' }, failed(2))
    t.same(await owedOn(sql, 'w.3'), failed(2), "another tenant's clear does not reach this row")
    await clearOwedStatusReceipt(sql, ref('w.3'), failed(2))
    t.equal(await owedOn(sql, 'w.3'), null)
  })

  t.test('concurrent clears share one statement, each clearing only its own debt', async (t) => {
    for (const w of ['w.b1', 'w.b2', 'w.b3']) await sent(sql, w)
    await apply(sql, 'w.b1', 'delivered', 1, delivered(1))
    await apply(sql, 'w.b2', 'delivered', 1, delivered(1))
    await apply(sql, 'w.b3', 'delivered', 1, delivered(1))
    await apply(sql, 'w.b3', 'failed', 2, failed(2))
    const clearer = createOwedReceiptClearer(sql, { maxSize: 10, maxWaitMs: 20 })
    await Promise.all([
      clearer.add({ ref: ref('w.b1'), paid: delivered(1) }),
      clearer.add({ ref: ref('w.b2'), paid: delivered(1) }),
      clearer.add({ ref: ref('w.b3'), paid: delivered(1) }),
    ])
    t.equal(await owedOn(sql, 'w.b1'), null)
    t.equal(await owedOn(sql, 'w.b2'), null)
    t.same(await owedOn(sql, 'w.b3'), failed(2), 'the superseded Delivered paid in the batch leaves the Failed owed')
  })

  t.test('retention keeps a final row while it owes a status receipt', async (t) => {
    await sent(sql, 'w.4')
    await apply(sql, 'w.4', 'delivered', 1, delivered(1))
    const cutOff = new Date(t0.getTime() + 3600_000)
    const exists = async () => (await sql`select 1 from message_tracking where wamid = 'w.4'`).length === 1
    await expireTrackingRows(sql, cutOff)
    t.ok(await exists(), 'kept while owing')
    await clearOwedStatusReceipt(sql, ref('w.4'), delivered(1))
    await expireTrackingRows(sql, cutOff)
    t.notOk(await exists(), 'deleted once paid')
  })
})
