import t from 'tap'
import { createLogger } from '../../src/log.js'
import { startRetention } from '../../src/flows/retention.js'
import { randomBytes } from 'node:crypto'
import { expireResendTokens } from '../../src/sinks/db/settlement.js'
import { upsertTenant } from '../../src/sinks/db/tenants.js'
import { expireTrackingRows } from '../../src/sinks/db/tracking-rows.js'
import { tenantSpec } from '../helpers/tenants.js'
import type { ObjectStore } from '../../src/sinks/object-store.js'
import { createTestDb } from '../helpers/db.js'

const DAY_MS = 86_400_000

async function waitUntil(cond: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs
  while (Date.now() < end) {
    if (await cond()) return true
    await new Promise((r) => setTimeout(r, 20))
  }
  return cond()
}

t.test('used resend tokens older than the retention go; recent ones stay', async (t) => {
  const db = await createTestDb()
  t.teardown(db.drop)
  const { sql } = db
  const now = Date.parse('2026-06-30T12:00:00Z')
  const usedDaysAgo = { 'tok-old': 45, 'tok-just-over': 30.01, 'tok-recent': 29.9, 'tok-today': 0 }
  for (const [token, days] of Object.entries(usedDaysAgo)) {
    await sql`insert into resend_tokens (tenant_id, token, genesys_message_id, used_at)
              values ('acme', ${token}, ${`g-${token}`}, ${new Date(now - days * DAY_MS)})`
  }
  // A failing archive part must not keep the tokens from expiring.
  const broken = {
    applyRetention: () => Promise.reject(new Error('S3 away')),
  } as unknown as ObjectStore
  const retention = startRetention({
    objects: { store: broken, buckets: ['b'], days: 30 },
    resendTokens: { days: 30, expire: (olderThan) => expireResendTokens(sql, olderThan) },
    everyMs: 25,
    log: createLogger('silent'),
    now: () => now,
  })
  t.teardown(retention.stop)
  const left = async () =>
    (await sql<{ token: string }[]>`select token from resend_tokens order by token`).map((r) => r.token)
  t.ok(await waitUntil(async () => (await left()).length === 2, 10_000), 'the sweep ran')
  t.same(await left(), ['tok-recent', 'tok-today'])
})

t.test(
  'tracking rows: final ones older than the retention go; open claims, retries and owed receipts stay',
  async (t) => {
    const db = await createTestDb()
    t.teardown(db.drop)
    const { sql } = db
    const a = tenantSpec()
    const b = tenantSpec()
    for (const spec of [a, b]) await upsertTenant(sql, randomBytes(32), spec)
    const now = Date.parse('2026-06-30T12:00:00Z')
    const rows: Array<[string, string, string, number, string | null]> = [
      // tenant, message id, status, created days ago, receipt owed
      [a.id, 'sent-old', 'sent', 40, null],
      [a.id, 'read-old', 'read', 31, null],
      [b.id, 'failed-old', 'failed', 45, null],
      [b.id, 'dead-old', 'dead_lettered', 60, null],
      [a.id, 'sent-recent', 'sent', 29, null],
      [a.id, 'claimed-old', 'claimed', 90, null],
      [b.id, 'retrying-old', 'retrying', 90, null],
      [b.id, 'owed-old', 'failed', 90, 'GeneralError'],
    ]
    for (const [tenant, id, status, days, owed] of rows) {
      await sql`insert into message_tracking (tenant_id, direction, genesys_message_id, status, created_at, receipt_owed)
              values (${tenant}, 'outbound', ${id}, ${status}, ${new Date(now - days * DAY_MS)}, ${owed})`
    }
    await sql`insert into message_tracking (tenant_id, direction, wamid, status, created_at)
            values (${a.id}, 'inbound', 'wamid.in-old', 'sent', ${new Date(now - 40 * DAY_MS)})`
    // Slices of 2 rows: the loop must go on until a tenant has none left.
    const retention = startRetention({
      trackingRows: { days: 30, expire: (olderThan) => expireTrackingRows(sql, olderThan, 2) },
      everyMs: 25,
      log: createLogger('silent'),
      now: () => now,
    })
    t.teardown(retention.stop)
    const left = async () =>
      (
        await sql<{ id: string }[]>`select coalesce(genesys_message_id, wamid) as id from message_tracking order by 1`
      ).map((r) => r.id)
    t.ok(await waitUntil(async () => (await left()).length === 4, 10_000), 'the sweep ran')
    t.same(await left(), ['claimed-old', 'owed-old', 'retrying-old', 'sent-recent'])
  },
)
