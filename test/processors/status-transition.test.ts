import fc from 'fast-check'
import t from 'tap'
import {
  nextStatus,
  owedStatusReceiptOf,
  receiptDueFor,
  receiptForStatus,
  receiptOfOwed,
  type TrackingStatus,
} from '../../src/processors/status-transition.js'
import type { MetaStatusValue } from '../../src/processors/types/meta.js'

const ctx = { genesysMessageId: 'gm-42', toId: '447700900123', time: '2025-03-04T10:15:33.000Z' }
const order: TrackingStatus[] = ['pending', 'sent', 'delivered', 'read']

t.test('forward moves apply; backwards and repeats do not', async (t) => {
  t.same(nextStatus(undefined, 'read'), { apply: true, status: 'read' })
  t.same(nextStatus('pending', 'sent'), { apply: true, status: 'sent' })
  t.same(nextStatus('sent', 'read'), { apply: true, status: 'read' }, 'read may skip delivered')
  t.same(nextStatus('read', 'delivered'), { apply: false, status: 'read' })
  t.same(nextStatus('delivered', 'delivered'), { apply: false, status: 'delivered' })
  t.same(nextStatus('delivered', 'failed'), { apply: true, status: 'failed' })
  t.same(nextStatus('failed', 'read'), { apply: false, status: 'failed' })
  t.same(nextStatus('read', 'failed'), { apply: false, status: 'read' })
})

t.test('property: under any sequence the status never moves backwards and failed/read stay', async (t) => {
  const incoming = fc.constantFrom<MetaStatusValue>('sent', 'delivered', 'read', 'failed')
  fc.assert(
    fc.property(fc.array(incoming, { maxLength: 30 }), (seq) => {
      let cur: TrackingStatus | undefined
      for (const s of seq) {
        const next = nextStatus(cur, s)
        if (cur === 'failed' || cur === 'read') {
          if (next.apply || next.status !== cur) return false
        } else if (cur !== undefined && next.status !== 'failed' && order.indexOf(next.status) < order.indexOf(cur)) {
          return false
        }
        if (next.apply && next.status !== s) return false
        if (nextStatus(next.status, s).apply) return false // applying the same status twice is a no-op
        cur = next.status
      }
      return true
    }),
  )
  t.pass()
})

t.test('receipts: delivered → Delivered, read only if no delivered seen, sent → none', async (t) => {
  t.same(receiptForStatus('delivered', 'sent', ctx), {
    id: 'gm-42',
    channel: { to: { id: '447700900123', idType: 'Phone' }, time: ctx.time },
    status: 'Delivered',
    direction: 'Outbound',
    isFinalReceipt: false,
  })
  t.equal(receiptForStatus('sent', 'pending', ctx), undefined)
  t.equal(receiptForStatus('read', 'delivered', ctx), undefined)
  t.equal(receiptForStatus('read', 'sent', ctx)?.status, 'Delivered')
  t.equal(receiptForStatus('read', undefined, ctx)?.status, 'Delivered')
  t.equal(receiptForStatus('delivered', 'read', ctx), undefined, 'late delivered after read')
  t.equal(receiptForStatus('delivered', 'delivered', ctx), undefined, 'duplicate webhook')
})

t.test('failed → final Failed receipt with the reason from the shared Meta code table', async (t) => {
  const r = receiptForStatus('failed', 'sent', {
    ...ctx,
    error: { code: 131047, title: 'Re-engagement message', details: 'More than 24 hours have passed' },
  })
  t.same(r, {
    id: 'gm-42',
    channel: { to: { id: '447700900123', idType: 'Phone' }, time: ctx.time },
    status: 'Failed',
    direction: 'Outbound',
    isFinalReceipt: true,
    reasons: [{ code: 'MessageNotAllowed', message: 'WhatsApp 131047: More than 24 hours have passed' }],
  })
  t.equal(
    receiptForStatus('failed', 'sent', { ...ctx, error: { code: 131026 } })?.reasons?.[0]?.code,
    'InvalidDestination',
  )
  t.same(receiptForStatus('failed', undefined, ctx)?.reasons, [
    { code: 'GeneralError', message: 'WhatsApp: reported as failed' },
  ])
  t.equal(receiptForStatus('failed', 'failed', ctx), undefined)
})

t.test('the owed receipt keeps what only the status knew, and reads back what the row stored', async (t) => {
  const time = '2025-03-04T10:15:33.000Z'
  t.equal(receiptDueFor('sent', { time }), undefined)
  t.same(receiptDueFor('read', { time: Date.parse(time) }), { status: 'Delivered', time }, 'ms become ISO')
  const owed = receiptDueFor('failed', { time, error: { code: 131026, details: 'not on WhatsApp' } })
  t.same(owed, { status: 'Failed', time, reason: 'InvalidDestination', message: 'WhatsApp 131026: not on WhatsApp' })
  t.same(
    owed && receiptOfOwed(owed, { genesysMessageId: 'gm-42', toId: '447700900123' }),
    receiptForStatus('failed', 'sent', {
      genesysMessageId: 'gm-42',
      toId: '447700900123',
      time,
      error: { code: 131026, details: 'not on WhatsApp' },
    }),
    'paid later, the receipt is the one the transition called for',
  )
  t.same(owedStatusReceiptOf(JSON.parse(JSON.stringify(owed)) as unknown), owed)
  t.same(owedStatusReceiptOf({ status: 'Failed', time, reason: 'SomethingNew', message: 'm' }), {
    status: 'Failed',
    time,
    reason: 'GeneralError',
    message: 'm',
  })
  t.equal(owedStatusReceiptOf(null), undefined, 'nothing owed')
  t.equal(owedStatusReceiptOf({ status: 'Read', time }), undefined, 'a receipt Genesys does not take')
})
