import t from 'tap'
import { parseMetaWebhook, splitMetaWebhook } from '../../src/processors/split-meta-webhook.js'

const value = (over: Record<string, unknown>, pnid = '106540352242922') => ({
  messaging_product: 'whatsapp',
  metadata: { display_phone_number: '15550001111', phone_number_id: pnid },
  ...over,
})
const hook = (...values: unknown[]) => ({
  object: 'whatsapp_business_account',
  entry: [{ id: 'WABA-1', changes: values.map((v) => ({ field: 'messages', value: v })) }],
})
const text = { from: '447700900123', id: 'wamid.AAA1', timestamp: '1741083242', type: 'text', text: { body: 'hello' } }
const image = {
  from: '447700900123',
  id: 'wamid.AAA2',
  timestamp: '1741083250',
  type: 'image',
  image: { id: '1203948576', mime_type: 'image/jpeg', sha256: 'b64hash=', caption: 'damage' },
}
const failed = {
  id: 'wamid.OUT1',
  status: 'failed',
  timestamp: '1741083300',
  recipient_id: '447700900123',
  errors: [{ code: 131047, title: 'Re-engagement message', error_data: { details: 'More than 24 hours' } }],
}

const parse = (v: unknown) => parseMetaWebhook(Buffer.from(JSON.stringify(v)))
const reasonOf = (v: unknown) => {
  const r = parse(v)
  return r.ok ? 'ok' : r.reason
}

t.test('the facts example splits into two messages with profile name and ms timestamps', async (t) => {
  const r = parse(
    hook(value({ contacts: [{ profile: { name: 'Sam Lee' }, wa_id: '447700900123' }], messages: [text, image] })),
  )
  t.ok(r.ok)
  if (!r.ok) return
  const s = splitMetaWebhook(r.value)
  t.same(s.phoneNumberIds, ['106540352242922'])
  t.equal(s.messages.length, 2)
  t.same(s.messages[0], {
    phoneNumberId: '106540352242922',
    displayPhoneNumber: '15550001111',
    waId: '447700900123',
    wamid: 'wamid.AAA1',
    timestampMs: 1741083242000,
    profileName: 'Sam Lee',
    message: text,
    json: JSON.stringify(text),
  })
  t.same(JSON.parse(s.messages[1]!.json), image)
  t.same(s.statuses, [])
})

t.test('every entry, change, status and standalone error is visited; other fields are skipped', async (t) => {
  const payload = {
    object: 'whatsapp_business_account',
    entry: [
      { id: 'WABA-1', changes: [{ field: 'messages', value: value({ statuses: [failed] }) }] },
      {
        id: 'WABA-2',
        changes: [
          { field: 'message_template_status_update', value: { event: 'APPROVED' } },
          { field: 'messages', value: value({ messages: [text], contacts: [{ wa_id: '447700900999' }] }, '2222') },
          { field: 'messages', value: value({ errors: [{ code: 130429, title: 'Rate limit hit' }] }, '2222') },
        ],
      },
    ],
  }
  const r = parse(payload)
  t.ok(r.ok)
  if (!r.ok) return
  const s = splitMetaWebhook(r.value)
  t.same(s.phoneNumberIds, ['106540352242922', '2222'])
  t.equal(s.statuses.length, 1)
  t.same(
    {
      waId: s.statuses[0]!.waId,
      wamid: s.statuses[0]!.wamid,
      ts: s.statuses[0]!.timestampMs,
      code: s.statuses[0]!.status.errors?.[0]?.code,
    },
    { waId: '447700900123', wamid: 'wamid.OUT1', ts: 1741083300000, code: 131047 },
  )
  t.equal(s.messages.length, 1)
  t.notOk('profileName' in s.messages[0]!, 'contact of another wa_id is not used')
  t.same(
    s.errors.map((e) => [e.phoneNumberId, e.error.code]),
    [['2222', 130429]],
  )
})

t.test('empty entry list and change without messages are fine', async (t) => {
  const r = parse({ object: 'whatsapp_business_account', entry: [] })
  t.ok(r.ok)
  if (r.ok) t.same(splitMetaWebhook(r.value), { phoneNumberIds: [], messages: [], statuses: [], errors: [] })
})

t.test('malformed payloads name the path', async (t) => {
  t.equal(reasonOf([]), 'body must be an object')
  t.equal(reasonOf({ entry: [] }), 'object must be a non-empty string')
  t.equal(reasonOf({ object: 'x', entry: {} }), 'entry must be an array')
  t.equal(reasonOf(hook({})), 'entry[0].changes[0].value.metadata must be an object')
  t.equal(
    reasonOf(hook(value({ messages: [{ ...text, timestamp: 1741083242 }] }))),
    'entry[0].changes[0].value.messages[0].timestamp must be a string of Unix seconds',
  )
  t.equal(
    reasonOf(hook(value({ messages: [{ ...text, text: { body: 5 } }] }))),
    'entry[0].changes[0].value.messages[0].text.body must be a non-empty string',
  )
  t.equal(
    reasonOf(hook(value({ messages: [{ ...image, image: {} }] }))),
    'entry[0].changes[0].value.messages[0].image.id must be a non-empty string',
  )
  t.equal(
    reasonOf(hook(value({ statuses: [{ ...failed, status: 'deleted' }] }))),
    'entry[0].changes[0].value.statuses[0].status must be one of sent|delivered|read|failed',
  )
  t.equal(
    reasonOf(hook(value({ statuses: [{ ...failed, errors: [{ title: 'x' }] }] }))),
    'entry[0].changes[0].value.statuses[0].errors[0].code must be a finite number',
  )
  t.equal(
    reasonOf(hook(value({ messages: [{ ...text, type: 'location', location: { latitude: 1 } }] }))),
    'entry[0].changes[0].value.messages[0].location.longitude is missing',
  )
  const bad = parseMetaWebhook(Buffer.from('{"object":'))
  t.notOk(bad.ok)
})
