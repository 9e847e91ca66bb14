import t from 'tap'
import { createLogger } from '../../src/log.js'
import { startRetention } from '../../src/flows/retention.js'
import { expireResendTokens } from '../../src/sinks/db/settlement.js'
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
