import t from 'tap'
import {
  CALLBACK_DATA_MAX,
  callbackDataFor,
  callbackOfStatusItem,
  parseCallbackData,
} from '../../src/processors/callback-data.js'

t.test('callback data names the tenant and message and reads back', async (t) => {
  const ref = { tenantId: 't-abc-1', messageId: 'm:with:colons', resend: false }
  const s = callbackDataFor(ref)
  t.equal(s, 'gwb1:t-abc-1:m:with:colons')
  t.same(parseCallbackData(s), ref)
  t.same(parseCallbackData(callbackDataFor({ ...ref, resend: true })), { ...ref, resend: true }, 'the resend copy')
  t.same(callbackOfStatusItem(Buffer.from(JSON.stringify({ id: 'wamid.x', biz_opaque_callback_data: s }))), ref)
})

t.test('over Meta limit of 512 characters: no callback data', async (t) => {
  t.equal(callbackDataFor({ tenantId: 't1', messageId: 'x'.repeat(CALLBACK_DATA_MAX), resend: false }), undefined)
  t.ok(callbackDataFor({ tenantId: 't1', messageId: 'x'.repeat(CALLBACK_DATA_MAX - 9), resend: true }))
})

t.test('anything not in the format is ignored', async (t) => {
  for (const v of [undefined, 3, '', 'gwb1:', 'gwb1::m', 'gwb1:T-UPPER:m', 'gwb1:t1:', 'other:t1:m', {}]) {
    t.equal(parseCallbackData(v), undefined, JSON.stringify(v) ?? 'undefined')
  }
  t.equal(callbackOfStatusItem(Buffer.from('not json')), undefined)
  t.equal(callbackOfStatusItem(Buffer.from('null')), undefined)
})
