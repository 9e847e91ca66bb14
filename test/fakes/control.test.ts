import t from 'tap'
import { answer, controlOps } from '../../src/fakes/control.js'
import { runFakes } from '../../src/fakes/run.js'
import { createMetaClient } from '../../src/sinks/meta-client.js'
import { spawnFakes } from '../helpers/fakes-process.js'

const num = { phoneNumberId: '3088', accessToken: 'tok-3088', appSecret: 'secret-3088' }
const body = (text: string) => ({
  messaging_product: 'whatsapp',
  to: '447700900123',
  type: 'text',
  text: { body: text },
})

t.test('the control ops script the fakes and read what they received', async (t) => {
  const fakes = await runFakes([])
  const meta = createMetaClient({
    graphUrl: fakes.meta.url,
    apiVersion: 'v21.0',
    downloadMedia: () => Promise.reject(new Error('not used here')),
  })
  t.teardown(async () => {
    await meta.close()
    await fakes.close()
  })
  const ops = controlOps(fakes)
  t.same(answer(ops, { id: 1, op: 'addNumber', args: num }), { id: 1, ok: true, value: null })
  answer(ops, { id: 2, op: 'failMetaNext', args: { n: 1, fault: { accepted: true, status: 502 } } })
  await meta.sendMessage({ phoneNumberId: num.phoneNumberId, accessToken: num.accessToken, body: body('one') })
  await meta.sendMessage({ phoneNumberId: num.phoneNumberId, accessToken: num.accessToken, body: body('two') })
  await meta.sendMessage({ phoneNumberId: num.phoneNumberId, accessToken: 'wrong', body: body('three') })
  t.equal(ops.countReceived({}), 3)
  t.equal(ops.countReceived({ acceptedOnly: true }), 2, 'the 502 after Meta took it counts as accepted')
  const got = ops.received({ acceptedOnly: true, contains: 'two' })
  t.equal(got.length, 1)
  t.match(got[0], { status: 200, accepted: true, wamid: /^wamid\./, body: { text: { body: 'two' } } })
  t.notOk('headers' in (got[0] ?? {}), 'no headers (they carry the token) in the summary')
  const off = answer(ops, { id: 3, op: 'setMetaLatency', args: null })
  t.same(off, { id: 3, ok: true, value: null })
  t.match(answer(ops, { id: 4, op: 'nope', args: {} } as never), { id: 4, ok: false, error: /unknown op nope/ })
})

t.test('the fakes in a child process are scripted and read over IPC', async (t) => {
  const fakes = await spawnFakes()
  t.teardown(() => fakes.close())
  await fakes.call('addNumber', num)
  const meta = createMetaClient({
    graphUrl: fakes.metaUrl,
    apiVersion: 'v21.0',
    downloadMedia: () => Promise.reject(new Error('not used here')),
  })
  t.teardown(() => meta.close())
  const sent = await meta.sendMessage({
    phoneNumberId: num.phoneNumberId,
    accessToken: num.accessToken,
    body: body('hi'),
  })
  t.equal(sent.ok, true)
  await fakes.waitForCount(1, { acceptedOnly: true, contains: 'hi' }, 5000)
  t.match(await fakes.received({ contains: 'hi' }), [{ accepted: true, body: { text: { body: 'hi' } } }])
  await t.rejects(fakes.call('addNumber', null as never), /fakes:/, 'a failing op is answered with its error')
})
