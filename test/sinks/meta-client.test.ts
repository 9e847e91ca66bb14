import t from 'tap'
import { createFakeMeta } from '../../src/fakes/fake-meta.js'
import { createMediaFetcher } from '../../src/sinks/media-fetch.js'
import { metaMediaDownload } from '../../src/sinks/media.js'
import { createMetaClient } from '../../src/sinks/meta-client.js'
import { createByteBudget } from '../../src/semaphore.js'

const number = { phoneNumberId: '106540352242922', accessToken: 'EAAG-good', appSecret: 'app-secret-1' }
const text = (to: string, body = 'hello') => ({ messaging_product: 'whatsapp', to, type: 'text', text: { body } })

t.test('meta client against the fake', async (t) => {
  const meta = await createFakeMeta()
  meta.addNumber(number)
  // Media downloads go through the fetch policy; the fake is its one insecure (local http) origin.
  const insecure = [new URL(meta.url).host]
  const fetcher = createMediaFetcher({
    connectTimeoutMs: 2000,
    headersTimeoutMs: 2000,
    bodyTimeoutMs: 2000,
    totalTimeoutMs: 10_000,
    budget: createByteBudget(10_000_000),
    insecureOrigins: new Set(insecure),
  })
  const downloadMedia = metaMediaDownload(fetcher, {
    mediaHosts: ['lookaside.fbsbx.com:443'],
    graphUrl: meta.url,
    hosts: { extraHosts: [], insecureOrigins: insecure },
  })
  const client = createMetaClient({
    graphUrl: meta.url,
    apiVersion: 'v21.0',
    connections: 4,
    headersTimeoutMs: 2000,
    downloadMedia,
  })
  t.teardown(async () => {
    await client.close()
    await fetcher.close()
    await meta.close()
  })
  t.beforeEach(() => meta.reset())

  t.test('a valid send returns the wamid the fake recorded', async (t) => {
    const r = await client.sendMessage({ ...number, body: text('+447700900123') })
    if (!r.ok) return t.fail(JSON.stringify(r))
    t.match(r.wamid, /^wamid\./)
    t.equal(r.waId, '447700900123')
    t.equal(r.status, 200)
    const got = meta.messagesTo('447700900123')
    t.equal(got.length, 1)
    t.equal(got[0]?.wamid, r.wamid)
    t.equal(got[0]?.token, number.accessToken)
  })

  t.test('wrong token → 401 with code 190, not a throw', async (t) => {
    const r = await client.sendMessage({ ...number, accessToken: 'EAAG-bad', body: text('447700900123') })
    t.same(r.ok, false)
    if (r.ok) return
    t.equal(r.status, 401)
    t.equal(r.error.code, 190)
    t.equal(r.error.type, 'OAuthException')
    t.ok(r.error.fbtraceId)
    t.equal(meta.messagesTo('447700900123').length, 0)
  })

  t.test('injected 131047 comes back with its code and details', async (t) => {
    meta.failNext(1, { metaCode: 131047 }, { to: '447700900123' })
    const other = await client.sendMessage({ ...number, body: text('447700900999') })
    t.equal(other.ok, true, 'the fault only matches its recipient')
    const r = await client.sendMessage({ ...number, body: text('447700900123') })
    if (r.ok) return t.fail('expected failure')
    t.equal(r.status, 400)
    t.equal(r.error.code, 131047)
    t.equal(r.error.message, '(#131047) Re-engagement message')
    t.match(r.error.details, /24 hours/)
    const again = await client.sendMessage({ ...number, body: text('447700900123') })
    t.equal(again.ok, true, 'failNext(1) fails exactly one request')
  })

  t.test('dropped connection → network failure, status 0', async (t) => {
    meta.failNext(1, { drop: true })
    const r = await client.sendMessage({ ...number, body: text('447700900123') })
    if (r.ok) return t.fail('expected failure')
    t.equal(r.status, 0)
    t.equal(r.network, true)
    t.ok(r.error.message.length > 0)
    t.equal((await client.sendMessage({ ...number, body: text('447700900123') })).ok, true, 'pool recovers')
  })

  t.test('server refusing connections → network failure', async (t) => {
    await meta.down('refuse')
    const r = await client.sendMessage({ ...number, body: text('447700900123') })
    await meta.up()
    if (r.ok) return t.fail('expected failure')
    t.equal(r.network, true)
    t.equal(r.networkCode, 'ECONNREFUSED')
    t.equal((await client.sendMessage({ ...number, body: text('447700900123') })).ok, true, 'works after up()')
  })

  t.test('down 503 → ok:false status 503 with a Meta envelope', async (t) => {
    await meta.down()
    const r = await client.sendMessage({ ...number, body: text('447700900123') })
    await meta.up()
    if (r.ok) return t.fail('expected failure')
    t.equal(r.status, 503)
    t.equal(r.error.code, 2)
  })

  t.test('validation error: text over 4096 characters', async (t) => {
    const r = await client.sendMessage({ ...number, body: text('447700900123', 'x'.repeat(4097)) })
    if (r.ok) return t.fail('expected failure')
    t.equal(r.status, 400)
    t.equal(r.error.code, 100)
    t.match(r.error.details, /4096/)
  })

  t.test('headers timeout → network failure', async (t) => {
    meta.setLatency(3000)
    const r = await client.sendMessage({ ...number, body: text('447700900123') })
    meta.setLatency(undefined)
    if (r.ok) return t.fail('expected failure')
    t.equal(r.network, true)
    t.equal(r.networkCode, 'UND_ERR_HEADERS_TIMEOUT')
  })

  t.test('two-step media download returns the exact bytes', async (t) => {
    const bytes = Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 31) % 256))
    const mediaId = meta.addMedia(number.phoneNumberId, bytes, 'image/jpeg')
    const info = await client.getMediaUrl({ mediaId, accessToken: number.accessToken })
    if (!info.ok) return t.fail(JSON.stringify(info))
    t.equal(info.mimeType, 'image/jpeg')
    t.equal(info.fileSize, bytes.length)
    const dl = await client.downloadMedia({ url: info.url, accessToken: number.accessToken, maxBytes: 1_000_000 })
    if (!dl.ok) return t.fail(JSON.stringify(dl))
    t.ok(dl.bytes.equals(bytes))
    t.equal(dl.contentType, 'image/jpeg')

    const small = await client.downloadMedia({ url: info.url, accessToken: number.accessToken, maxBytes: 1000 })
    t.same(small.ok ? undefined : small.tooLarge, true, 'max size enforced')
    const wrong = await client.downloadMedia({ url: info.url, accessToken: 'nope', maxBytes: 1_000_000 })
    t.same(wrong.ok ? 0 : wrong.status, 401)
    // A media URL anywhere but Meta's hosts is refused before any request; the token goes nowhere.
    const elsewhere = await client.downloadMedia({
      url: 'https://169.254.169.254/latest/meta-data/',
      accessToken: number.accessToken,
      maxBytes: 1000,
    })
    t.same(elsewhere.ok ? undefined : [elsewhere.status, elsewhere.refused], [0, 'host_not_allowed'])
    const otherMedia = await client.getMediaUrl({ mediaId: '999', accessToken: number.accessToken })
    t.same(otherMedia.ok ? undefined : otherMedia.error.code, 100)
  })
})
