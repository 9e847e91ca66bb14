import t from 'tap'
import { createTestDb } from '../../helpers/db.js'
import { seedTenant } from '../../helpers/tenants.js'
import { createClaimer } from '../../../src/sinks/db/claims.js'
import { claimInbound } from '../../../src/sinks/db/inbound-claims.js'
import { createReceiptDebts } from '../../../src/sinks/db/owed-receipts.js'
import { createSettlementStore } from '../../../src/sinks/db/settlement.js'
import { applyStatuses, createStatusApplier } from '../../../src/sinks/db/delivery-statuses.js'
import { savePendingStatus, sweepPendingStatuses, takePendingStatuses } from '../../../src/sinks/db/pending-statuses.js'
import { createTrackingWriter } from '../../../src/sinks/db/tracking-outcomes.js'
import { lookupByMessageIds } from '../../../src/sinks/db/tracking-rows.js'

t.test('tracking against Postgres', async (t) => {
  const db = await createTestDb({ max: 8 })
  t.teardown(db.drop)
  const { sql } = db
  await seedTenant(sql, 'acme')
  const claimer = createClaimer(sql, { maxSize: 20, maxWaitMs: 2 })
  const writer = createTrackingWriter(sql, { maxSize: 50, maxWaitMs: 2 })
  const at = new Date('2025-01-01T10:00:00Z')

  t.test('50 concurrent claims of one id: exactly one wins (across several batches)', async (t) => {
    const results = await Promise.all(
      Array.from({ length: 50 }, () =>
        claimer.claim({ tenantId: 'acme', direction: 'outbound', messageId: 'g-1', conversationId: 'c-1' }),
      ),
    )
    t.equal(results.filter(Boolean).length, 1)
    const row = (await lookupByMessageIds(sql, 'acme', 'outbound', ['g-1'])).get('g-1')
    t.equal(row?.status, 'claimed')
    t.equal(row?.attempts, 1)
    t.equal(row?.conversationId, 'c-1')
  })

  t.test('concurrent claimers in separate pools: one winner', async (t) => {
    const others = Array.from({ length: 4 }, () => createClaimer(sql, { maxSize: 100, maxWaitMs: 1 }))
    const results = await Promise.all(
      others.flatMap((c) =>
        Array.from({ length: 10 }, () => c.claim({ tenantId: 'acme', direction: 'inbound', messageId: 'wamid.in-1' })),
      ),
    )
    t.equal(results.filter(Boolean).length, 1)
  })

  t.test('one batch with many ids: each id claimed once', async (t) => {
    const ids = Array.from({ length: 30 }, (_, i) => `g-batch-${i % 10}`)
    const results = await Promise.all(
      ids.map((messageId) => claimer.claim({ tenantId: 'acme', direction: 'outbound', messageId })),
    )
    t.equal(results.filter(Boolean).length, 10)
  })

  t.test('retrying is claimable again; sent is not', async (t) => {
    t.ok(
      await writer.markRetrying({
        tenantId: 'acme',
        direction: 'outbound',
        messageId: 'g-1',
        errorCode: '500',
        errorText: 'boom',
        at,
      }),
    )
    const again = await Promise.all(
      [1, 2, 3].map(() => claimer.claim({ tenantId: 'acme', direction: 'outbound', messageId: 'g-1' })),
    )
    t.same(again.filter(Boolean).length, 1)
    t.equal((await lookupByMessageIds(sql, 'acme', 'outbound', ['g-1'])).get('g-1')?.attempts, 2)
    t.ok(await writer.markSent({ tenantId: 'acme', direction: 'outbound', messageId: 'g-1', wamid: 'wamid.1', at }))
    t.notOk(await claimer.claim({ tenantId: 'acme', direction: 'outbound', messageId: 'g-1' }))
    const row = (await lookupByMessageIds(sql, 'acme', 'outbound', ['g-1'])).get('g-1')
    t.equal(row?.status, 'sent')
    t.equal(row?.wamid, 'wamid.1')
    t.same(row?.sentAt, at)
    t.equal(row?.errorCode, null)
    t.notOk(
      await writer.markRetrying({
        tenantId: 'acme',
        direction: 'outbound',
        messageId: 'g-1',
        errorCode: 'x',
        errorText: 'x',
        at,
      }),
      'a sent row never goes back to retrying',
    )
  })

  t.test(
    'dead-lettered and failed are not claimable by a redelivery; release (a re-drive) makes anything claimable',
    async (t) => {
      await claimer.claim({ tenantId: 'acme', direction: 'outbound', messageId: 'g-dl' })
      t.ok(
        await writer.markDeadLettered({
          tenantId: 'acme',
          direction: 'outbound',
          messageId: 'g-dl',
          errorCode: 'T',
          errorText: 'x',
        }),
      )
      // Its send may have reached Meta (no answer came): only an explicit release may send it again.
      t.notOk(await claimer.claim({ tenantId: 'acme', direction: 'outbound', messageId: 'g-dl' }))
      t.ok(
        await writer.release({
          tenantId: 'acme',
          direction: 'outbound',
          messageId: 'g-dl',
          reason: 'operator re-drive',
        }),
      )
      t.ok(await claimer.claim({ tenantId: 'acme', direction: 'outbound', messageId: 'g-dl' }))
      t.ok(
        await writer.markFailed({
          tenantId: 'acme',
          direction: 'outbound',
          messageId: 'g-dl',
          errorCode: '131047',
          errorText: 'w',
          at,
        }),
      )
      t.notOk(await claimer.claim({ tenantId: 'acme', direction: 'outbound', messageId: 'g-dl' }))
      t.ok(
        await writer.release({ tenantId: 'acme', direction: 'outbound', messageId: 'g-dl', reason: 'operator resend' }),
      )
      t.ok(await claimer.claim({ tenantId: 'acme', direction: 'outbound', messageId: 'g-dl' }))
      t.notOk(await writer.release({ tenantId: 'acme', direction: 'outbound', messageId: 'nope', reason: 'x' }))
    },
  )

  t.test('a row keeps its first transient failure; a release (re-drive) forgets it', async (t) => {
    const ref = { tenantId: 'acme', direction: 'outbound' as const, messageId: 'g-ff' }
    const first = new Date('2025-01-01T10:00:00Z')
    const later = new Date('2025-01-01T10:05:00Z')
    const settlement = createSettlementStore(sql, { maxSize: 10, maxWaitMs: 1 })
    const firstFailedAt = async () => (await settlement.state({ tenantId: 'acme', messageId: 'g-ff' }))?.firstFailedAt
    await claimer.claim(ref)
    t.equal(await firstFailedAt(), null, 'none before it fails')
    t.ok(await writer.markRetrying({ ...ref, errorCode: '500', errorText: 'boom', at: first }))
    t.ok(await claimer.claim(ref))
    t.ok(await writer.markRetrying({ ...ref, errorCode: '503', errorText: 'again', at: later }))
    t.same(await firstFailedAt(), first, 'the first failure, not the latest')
    t.ok(await writer.release({ ...ref, reason: 'operator re-drive' }))
    t.equal(await firstFailedAt(), null, 'a re-drive gets the whole retry ceiling')
  })

  t.test("an inbound claim hands its owner the row's first transient failure", async (t) => {
    const c = { tenantId: 'acme', wamid: 'wamid.ff', waId: '447700900001', owner: 'p1', leaseMs: 60_000 }
    t.same(await claimInbound(sql, c), { kind: 'owned', firstFailedAt: null })
    const first = new Date('2025-01-01T10:00:00Z')
    const ref = { tenantId: 'acme', direction: 'inbound' as const, messageId: 'wamid.ff' }
    t.ok(await writer.markRetrying({ ...ref, errorCode: '503', errorText: 'Genesys away', at: first }))
    t.same(await claimInbound(sql, { ...c, owner: 'p2' }), { kind: 'owned', firstFailedAt: first })
  })

  t.test('a Failed receipt is owed only with the move to failed, until paid; a re-drive forgets it', async (t) => {
    const debts = createReceiptDebts(sql)
    const ref = { tenantId: 'acme', direction: 'outbound' as const, messageId: 'g-owe' }
    const key = { tenantId: 'acme', messageId: 'g-owe' }
    const failed = {
      ...ref,
      errorCode: '131047',
      errorText: 'outside the window',
      at,
      receiptOwed: 'MessageNotAllowed',
    }
    await claimer.claim(ref)
    t.ok(await writer.markFailed(failed))
    t.same(await debts.owed(key), { reason: 'MessageNotAllowed', text: 'outside the window' })
    await debts.paid(key)
    t.equal(await debts.owed(key), undefined)
    t.notOk(await writer.markFailed(failed), 'a failed row does not move again')
    t.equal(await debts.owed(key), undefined, 'so nothing is owed again')
    t.ok(await writer.release({ ...ref, reason: 're-drive' }))
    t.ok(await claimer.claim(ref))
    t.ok(await writer.markFailed(failed))
    t.ok(await writer.release({ ...ref, reason: 're-drive' }))
    t.equal(await debts.owed(key), undefined, 'a re-driven message owes no receipt of its earlier failure')
  })

  t.test('inbound rows are keyed by wamid and record the Genesys id', async (t) => {
    t.ok(
      await writer.markSent({
        tenantId: 'acme',
        direction: 'inbound',
        messageId: 'wamid.in-1',
        genesysMessageId: 'gen-9',
        at,
      }),
    )
    const row = (await lookupByMessageIds(sql, 'acme', 'inbound', ['wamid.in-1'])).get('wamid.in-1')
    t.equal(row?.genesysMessageId, 'gen-9')
    t.equal(row?.status, 'sent')
  })

  t.test('statuses move forward only', async (t) => {
    for (const id of ['g-s1', 'g-s2', 'g-s3']) {
      t.ok(await claimer.claim({ tenantId: 'acme', direction: 'outbound', messageId: id, waId: '3530001' }))
      await writer.markSent({ tenantId: 'acme', direction: 'outbound', messageId: id, wamid: `wamid.${id}`, at })
    }
    const later = new Date(at.getTime() + 1000)
    const [read, delivered] = await applyStatuses(sql, [
      { tenantId: 'acme', wamid: 'wamid.g-s1', status: 'read', at: later },
      { tenantId: 'acme', wamid: 'wamid.g-s1', status: 'delivered', at },
    ])
    t.match(read, { found: true, changed: true, previous: 'sent', current: 'read', tenantId: 'acme' })
    t.match(read, { genesysMessageId: 'g-s1', waId: '3530001' })
    t.match(delivered, { found: true, changed: false, previous: 'read', current: 'read' })
    const row = (await lookupByMessageIds(sql, 'acme', 'outbound', ['g-s1'])).get('g-s1')
    t.equal(row?.status, 'read')
    t.same(row?.deliveredAt, at, 'a late delivered still records its time')

    const [dup] = await applyStatuses(sql, [{ tenantId: 'acme', wamid: 'wamid.g-s1', status: 'read', at: new Date() }])
    t.match(dup, { found: true, changed: false, current: 'read' })
    t.same((await lookupByMessageIds(sql, 'acme', 'outbound', ['g-s1'])).get('g-s1')?.readAt, later)

    const [f, r2, f2] = await applyStatuses(sql, [
      { tenantId: 'acme', wamid: 'wamid.g-s2', status: 'failed', at, errorCode: '131026', errorText: 'undeliverable' },
      { tenantId: 'acme', wamid: 'wamid.g-s2', status: 'read', at },
      { tenantId: 'acme', wamid: 'wamid.g-s2', status: 'failed', at: later, errorCode: 'other', errorText: 'x' },
    ])
    t.match(f, { changed: true, current: 'failed' })
    t.match(r2, { changed: false, current: 'failed' })
    t.match(f2, { changed: false, current: 'failed' })
    const failedRow = (await lookupByMessageIds(sql, 'acme', 'outbound', ['g-s2'])).get('g-s2')
    t.equal(failedRow?.errorCode, '131026')
    t.same(failedRow?.failedAt, at)

    const [d, rd, fl] = await applyStatuses(sql, [
      { tenantId: 'acme', wamid: 'wamid.g-s3', status: 'delivered', at },
      { tenantId: 'acme', wamid: 'wamid.g-s3', status: 'read', at },
      { tenantId: 'acme', wamid: 'wamid.g-s3', status: 'failed', at },
    ])
    t.match(d, { changed: true, previous: 'sent', current: 'delivered' })
    t.match(rd, { changed: true, previous: 'delivered', current: 'read' })
    t.match(fl, { changed: false, current: 'read' }, 'read is terminal too')

    const [unknown] = await applyStatuses(sql, [{ tenantId: 'acme', wamid: 'wamid.unknown', status: 'delivered', at }])
    t.same(unknown, {
      found: false,
      changed: false,
      previous: null,
      current: null,
      tenantId: null,
      genesysMessageId: null,
      waId: null,
      conversationId: null,
    })
  })

  t.test('the batched applier shares statements and keeps per-item answers', async (t) => {
    await claimer.claim({ tenantId: 'acme', direction: 'outbound', messageId: 'g-b' })
    await writer.markSent({ tenantId: 'acme', direction: 'outbound', messageId: 'g-b', wamid: 'wamid.g-b', at })
    const applier = createStatusApplier(sql, { maxSize: 100, maxWaitMs: 5 })
    const out = await Promise.all(
      Array.from({ length: 20 }, () => applier.add({ tenantId: 'acme', wamid: 'wamid.g-b', status: 'delivered', at })),
    )
    t.equal(out.filter((o) => o.changed).length, 1)
    t.ok(out.every((o) => o.current === 'delivered'))
  })

  t.test('pending statuses are kept once, taken once and swept', async (t) => {
    const old = new Date(Date.now() - 3_600_000)
    await savePendingStatus(sql, { tenantId: 'acme', wamid: 'wamid.p1', status: 'delivered', payload: { a: 1 } })
    await savePendingStatus(sql, { tenantId: 'acme', wamid: 'wamid.p1', status: 'delivered', payload: { a: 2 } })
    await savePendingStatus(sql, {
      tenantId: 'acme',
      wamid: 'wamid.p1',
      status: 'sent',
      payload: { a: 3 },
      receivedAt: old,
    })
    await savePendingStatus(sql, {
      tenantId: 'acme',
      wamid: 'wamid.p2',
      status: 'read',
      payload: { b: 1 },
      receivedAt: old,
    })
    const taken = await takePendingStatuses(sql, 'acme', ['wamid.p1'])
    t.same(
      taken.map((p) => [p.status, p.payload]),
      [
        ['sent', { a: 3 }],
        ['delivered', { a: 1 }],
      ],
    )
    t.same(await takePendingStatuses(sql, 'acme', ['wamid.p1']), [])
    t.equal(await sweepPendingStatuses(sql, new Date(Date.now() - 60_000)), 1)
    t.same(await takePendingStatuses(sql, 'acme', ['wamid.p2']), [])
  })

  t.test('drain flushes pending writes', async (t) => {
    await claimer.drain()
    await writer.drain()
    t.pass()
  })
})

t.test('concurrent status batches over the same rows neither deadlock nor double-change', async (t) => {
  const db = await createTestDb({ max: 8 })
  t.teardown(db.drop)
  const { sql } = db
  await seedTenant(sql, 'acme')
  const claimer = createClaimer(sql, { maxSize: 500, maxWaitMs: 2 })
  const writer = createTrackingWriter(sql, { maxSize: 500, maxWaitMs: 2 })
  const ids = Array.from({ length: 40 }, (_, i) => `g-c${i}`)
  await Promise.all(ids.map((messageId) => claimer.claim({ tenantId: 'acme', direction: 'outbound', messageId })))
  const at = new Date()
  await Promise.all(
    ids.map((messageId) =>
      writer.markSent({ tenantId: 'acme', direction: 'outbound', messageId, wamid: `w.${messageId}`, at }),
    ),
  )
  const batches = Array.from({ length: 6 }, (_, b) => {
    const order = b % 2 === 0 ? ids : [...ids].reverse()
    return applyStatuses(
      sql,
      order.map((id) => ({ tenantId: 'acme', wamid: `w.${id}`, status: 'delivered' as const, at })),
    )
  })
  const outcomes = (await Promise.all(batches)).flat()
  t.equal(outcomes.filter((o) => o.changed).length, ids.length, 'each row changed exactly once')
})

t.test('tenants share no key: the same ids in two tenants are two rows', async (t) => {
  const db = await createTestDb({ max: 8 })
  t.teardown(db.drop)
  const { sql } = db
  await seedTenant(sql, 'acme')
  await seedTenant(sql, 'beta-co')
  const claimer = createClaimer(sql, { maxSize: 50, maxWaitMs: 5 })
  const writer = createTrackingWriter(sql, { maxSize: 50, maxWaitMs: 5 })
  const at = new Date('2025-01-01T10:00:00Z')

  t.test('one message id claimed by both tenants at once: each wins its own, once', async (t) => {
    const claims = await Promise.all(
      ['acme', 'beta-co', 'acme', 'beta-co'].map((tenantId) =>
        claimer.claim({ tenantId, direction: 'outbound', messageId: 'same-id', waId: `wa-${tenantId}` }),
      ),
    )
    t.same(claims, [true, true, false, false])
    // An inbound wamid too: a tenant that knows another's wamid cannot pre-claim it.
    t.ok(await claimer.claim({ tenantId: 'beta-co', direction: 'inbound', messageId: 'wamid.in-same' }))
    t.ok(await claimer.claim({ tenantId: 'acme', direction: 'inbound', messageId: 'wamid.in-same' }))
    const a = (await lookupByMessageIds(sql, 'acme', 'outbound', ['same-id'])).get('same-id')
    const b = (await lookupByMessageIds(sql, 'beta-co', 'outbound', ['same-id'])).get('same-id')
    t.equal(a?.waId, 'wa-acme')
    t.equal(b?.waId, 'wa-beta-co')
  })

  t.test("outcome writes and statuses of one tenant never touch the other's row", async (t) => {
    t.ok(await writer.markSent({ tenantId: 'acme', direction: 'outbound', messageId: 'same-id', wamid: 'w.a', at }))
    t.ok(await writer.markSent({ tenantId: 'beta-co', direction: 'outbound', messageId: 'same-id', wamid: 'w.b', at }))
    // beta-co names acme's wamid: not found for beta-co, acme's row unchanged.
    const [foreign] = await applyStatuses(sql, [{ tenantId: 'beta-co', wamid: 'w.a', status: 'failed', at }])
    t.match(foreign, { found: false, changed: false, tenantId: null, genesysMessageId: null })
    const [own] = await applyStatuses(sql, [{ tenantId: 'acme', wamid: 'w.a', status: 'delivered', at }])
    t.match(own, { found: true, changed: true, current: 'delivered', tenantId: 'acme', waId: 'wa-acme' })
    t.notOk(await writer.release({ tenantId: 'beta-co', direction: 'outbound', messageId: 'nope', reason: 'x' }))
    const a = (await lookupByMessageIds(sql, 'acme', 'outbound', ['same-id'])).get('same-id')
    const b = (await lookupByMessageIds(sql, 'beta-co', 'outbound', ['same-id'])).get('same-id')
    t.equal(a?.status, 'delivered')
    t.equal(a?.wamid, 'w.a')
    t.equal(b?.status, 'sent')
    t.equal(b?.wamid, 'w.b')
  })

  t.test('pending statuses are parked and taken per tenant', async (t) => {
    await savePendingStatus(sql, { tenantId: 'acme', wamid: 'w.p', status: 'read', payload: { t: 'a' } })
    await savePendingStatus(sql, { tenantId: 'beta-co', wamid: 'w.p', status: 'read', payload: { t: 'b' } })
    t.same(
      (await takePendingStatuses(sql, 'beta-co', ['w.p'])).map((p) => [p.tenantId, p.payload]),
      [['beta-co', { t: 'b' }]],
    )
    t.same(
      (await takePendingStatuses(sql, 'acme', ['w.p'])).map((p) => [p.tenantId, p.payload]),
      [['acme', { t: 'a' }]],
    )
  })
})
