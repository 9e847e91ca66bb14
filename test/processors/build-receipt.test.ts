import t from 'tap'
import { BridgeError } from '../../src/errors.js'
import {
  deliveredReceipt,
  failedReceipt,
  failedReceiptForError,
  receiptReasonForError,
} from '../../src/processors/build-receipt.js'
import { classifyMetaError } from '../../src/processors/classify-meta-error.js'

const ctx = { genesysMessageId: '9f1c0d7e2b4a4e21a3f5c6d7e8f90a1b', toId: '447700900123', time: 1741083333000 }

t.test('Failed receipt has the facts §2.5 shape', async (t) => {
  t.same(failedReceipt(ctx, 'MessageNotAllowed', 'WhatsApp 131047: outside 24h window'), {
    id: '9f1c0d7e2b4a4e21a3f5c6d7e8f90a1b',
    channel: { to: { id: '447700900123', idType: 'Phone' }, time: '2025-03-04T10:15:33.000Z' },
    status: 'Failed',
    direction: 'Outbound',
    isFinalReceipt: true,
    reasons: [{ code: 'MessageNotAllowed', message: 'WhatsApp 131047: outside 24h window' }],
  })
})

t.test('Delivered receipt is not final and has no reasons; ISO time passes through', async (t) => {
  t.same(deliveredReceipt({ ...ctx, time: '2025-03-04T10:15:33.000Z', idType: 'Opaque' }), {
    id: ctx.genesysMessageId,
    channel: { to: { id: ctx.toId, idType: 'Opaque' }, time: '2025-03-04T10:15:33.000Z' },
    status: 'Delivered',
    direction: 'Outbound',
    isFinalReceipt: false,
  })
  t.equal(deliveredReceipt({ ...ctx, time: 'not a time' }).channel.time, '1970-01-01T00:00:00.000Z')
})

t.test('reason messages are never empty and stay bounded', async (t) => {
  t.equal(failedReceipt(ctx, 'GeneralError', '  ').reasons?.[0]?.message, 'GeneralError')
  t.equal(failedReceipt(ctx, 'GeneralError', 'x'.repeat(5000)).reasons?.[0]?.message.length, 1000)
})

t.test('synchronous failures map by code, or by the reason a stage named', async (t) => {
  t.equal(receiptReasonForError(new BridgeError('GWB_NO_MAPPING', 'no conversation')), 'InvalidDestination')
  t.equal(receiptReasonForError(new BridgeError('GWB_UNSUPPORTED_CONTENT', 'card')), 'UnsupportedMessage')
  t.equal(receiptReasonForError(new BridgeError('GWB_BAD_REQUEST', 'x')), 'InvalidMessageStructure')
  t.equal(receiptReasonForError(new BridgeError('GWB_META_RATE_LIMIT', 'x')), 'RateLimited')
  t.equal(receiptReasonForError(new BridgeError('GWB_META_TRANSIENT', 'x')), 'ServerError')
  t.equal(receiptReasonForError(new BridgeError('GWB_MEDIA', 'x')), 'GeneralError')
  const named = new BridgeError('GWB_UNSUPPORTED_CONTENT', 'long', {
    details: { receiptReason: 'InvalidMessageStructure' },
  })
  t.equal(receiptReasonForError(named), 'InvalidMessageStructure')
  const bogus = new BridgeError('GWB_UNSUPPORTED_CONTENT', 'x', { details: { receiptReason: 'Nope' } })
  t.equal(receiptReasonForError(bogus), 'UnsupportedMessage', 'an unknown named reason is ignored')
  const meta = classifyMetaError({ status: 400, error: { code: 131026, message: 'Message undeliverable' } })
  t.same(failedReceiptForError(ctx, meta.error).reasons, [
    { code: 'InvalidDestination', message: 'WhatsApp 131026: Message undeliverable' },
  ])
})
