import { randomBytes } from 'node:crypto'
import t from 'tap'
import { createActivityToucher, getByConversation, getByWa, upsertMapping } from '../../../src/sinks/db/mappings.js'
import { upsertTenant } from '../../../src/sinks/db/tenants.js'
import { createTestDb } from '../../helpers/db.js'

t.test('conversation mappings', async (t) => {
  const db = await createTestDb()
  t.teardown(db.drop)
  const { sql } = db
  for (const id of ['acme', 'beta']) {
    await upsertTenant(sql, randomBytes(32), {
      id,
      name: id,
      status: 'active',
      genesys: {
        integrationId: `i-${id}`,
        region: 'mypurecloud.ie',
        clientId: 'c',
        clientSecret: 's',
        webhookSecret: 'w'.repeat(16),
      },
      whatsapp: {
        phoneNumberId: `1${id.length}${id.charCodeAt(0)}`,
        businessAccountId: '2',
        accessToken: 't',
        appSecret: 'a',
        verifyToken: 'v',
      },
    })
  }
  const t0 = new Date('2025-01-01T00:00:00Z')
  const t1 = new Date('2025-01-01T01:00:00Z')

  t.test('concurrent upserts of one conversation agree on one row', async (t) => {
    const rows = await Promise.all(
      ['111', '222', '333'].map((waId) =>
        upsertMapping(sql, { tenantId: 'acme', conversationId: 'conv-1', waId, phoneNumberId: '1' }, t0),
      ),
    )
    const waIds = new Set(rows.map((r) => r.waId))
    t.equal(waIds.size, 1)
    t.equal((await getByConversation(sql, 'acme', 'conv-1'))?.waId, rows[0]?.waId)
  })

  t.test('getByWa returns the latest conversation of the customer in the tenant', async (t) => {
    await upsertMapping(sql, { tenantId: 'acme', conversationId: 'conv-a', waId: '999', phoneNumberId: '1' }, t0)
    await upsertMapping(sql, { tenantId: 'acme', conversationId: 'conv-b', waId: '999', phoneNumberId: '1' }, t1)
    t.equal((await getByWa(sql, 'acme', '999'))?.conversationId, 'conv-b')
    t.equal(await getByWa(sql, 'other', '999'), undefined)
    t.equal(await getByConversation(sql, 'acme', 'nope'), undefined)
  })

  t.test('touches coalesce per conversation and only move forward', async (t) => {
    const toucher = createActivityToucher(sql, { flushMs: 60_000 })
    const late = new Date('2025-01-02T00:00:00Z')
    toucher.touch('acme', 'conv-a', new Date('2025-01-01T12:00:00Z'))
    toucher.touch('acme', 'conv-a', late)
    toucher.touch('acme', 'conv-a', new Date('2025-01-01T06:00:00Z'))
    toucher.touch('acme', 'conv-b', new Date('2024-12-31T00:00:00Z'))
    t.equal(toucher.pending, 2)
    await toucher.close()
    t.same((await getByConversation(sql, 'acme', 'conv-a'))?.lastActivityAt, late)
    t.same((await getByConversation(sql, 'acme', 'conv-b'))?.lastActivityAt, t1, 'an older touch does not move it back')
    t.equal((await getByWa(sql, 'acme', '999'))?.conversationId, 'conv-a')
  })

  t.test('the same conversation id in two tenants is two conversations, each with its own customer', async (t) => {
    const [a, b] = await Promise.all([
      upsertMapping(sql, { tenantId: 'acme', conversationId: 'conv-x', waId: '111', phoneNumberId: '1' }, t0),
      upsertMapping(sql, { tenantId: 'beta', conversationId: 'conv-x', waId: '222', phoneNumberId: '2' }, t0),
    ])
    t.equal(a.waId, '111', "acme's conversation keeps acme's customer")
    t.equal(b.waId, '222', "beta's conversation gets beta's customer, not acme's")
    t.equal((await getByConversation(sql, 'acme', 'conv-x'))?.waId, '111')
    t.equal((await getByConversation(sql, 'beta', 'conv-x'))?.waId, '222')
    t.equal(await getByConversation(sql, 'beta', 'conv-a'), undefined, "acme's conversation is not beta's")

    const toucher = createActivityToucher(sql, { flushMs: 60_000 })
    toucher.touch('beta', 'conv-x', t1)
    t.equal(toucher.pending, 1)
    await toucher.close()
    t.same((await getByConversation(sql, 'beta', 'conv-x'))?.lastActivityAt, t1)
    t.same((await getByConversation(sql, 'acme', 'conv-x'))?.lastActivityAt, t0, "a touch of beta's leaves acme's")
  })
})
