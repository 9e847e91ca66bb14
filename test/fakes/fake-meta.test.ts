import { createHash, createHmac } from 'node:crypto'
import { createServer, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { request } from 'undici'
import { createFakeMeta } from '../../src/fakes/fake-meta.js'
import { inboundMedia, inboundText, statusUpdate } from '../../src/fakes/meta-webhooks.js'
import { verifyGenesys, verifyMeta } from '../../src/fakes/sign.js'

const num = { phoneNumberId: '1065', accessToken: 'tok-1065', appSecret: 'secret-1065', wabaId: 'waba-9' }
const other = { phoneNumberId: '2077', accessToken: 'tok-2077', appSecret: 'secret-2077' }

/** A receiver that keeps raw bytes and headers of each request, and answers with fixed bytes. */
async function receiver(serve?: Buffer) {
  const got: { raw: Buffer; headers: IncomingHttpHeaders }[] = []
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      got.push({ raw: Buffer.concat(chunks), headers: req.headers })
      res.writeHead(200, { 'content-type': serve ? 'image/png' : 'text/plain' })
      res.end(serve ?? 'ok')
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return { got, url, close: () => new Promise<void>((r) => server.close(() => r())) }
}

async function post(url: string, body: unknown, token?: string) {
  const res = await request(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  })
  return {
    status: res.statusCode,
    headers: res.headers,
    json: (await res.body.json()) as { error?: Record<string, unknown> },
  }
}

t.test('fake Meta', async (t) => {
  const meta = await createFakeMeta()
  meta.addNumber(num)
  meta.addNumber(other)
  t.teardown(() => meta.close())
  t.beforeEach(() => meta.reset())
  const send = (body: unknown, token: string | undefined = num.accessToken, id = num.phoneNumberId) =>
    post(`${meta.url}/v21.0/${id}/messages`, body, token)
  const text = { messaging_product: 'whatsapp', to: '447700900123', type: 'text', text: { body: 'hi' } }

  t.test('webhook signature is lowercase hex HMAC-SHA256 of the raw body, as Meta sends it', async (t) => {
    const rx = await receiver()
    t.teardown(rx.close)
    const payload = meta.buildWebhook({
      phoneNumberId: num.phoneNumberId,
      messages: [inboundText({ from: '447700900123', body: 'Zoë says ✓ https://x.y/z' })],
      contacts: [{ waId: '447700900123', name: 'Zoë' }],
    })
    const r = await meta.sendWebhook(`${rx.url}/webhook/meta`, payload, num.appSecret)
    t.equal(r.status, 200)
    const hit = rx.got[0]
    if (hit === undefined) return t.fail('no request')
    const header = String(hit.headers['x-hub-signature-256'])
    t.equal(header, `sha256=${createHmac('sha256', num.appSecret).update(hit.raw).digest('hex')}`)
    t.match(header, /^sha256=[0-9a-f]{64}$/)
    t.ok(verifyMeta(hit.raw, header, num.appSecret))
    t.notOk(verifyMeta(hit.raw, header, 'other-secret'))
    t.notOk(verifyGenesys(hit.raw, header, num.appSecret), 'hex is not Base64')
    const raw = hit.raw.toString('utf8')
    t.match(raw, /Zo\\u00eb/, 'non-ASCII escaped like Meta')
    t.match(raw, /https:\\\/\\\/x\.y/, 'slashes escaped like Meta')
    t.same(JSON.parse(raw), payload, 'still the same JSON')
    const reserialised = JSON.stringify(JSON.parse(raw))
    t.notOk(verifyMeta(reserialised, header, num.appSecret), 're-serialised JSON does not verify')
  })

  t.test(
    'accepted sends emit signed status webhooks with the callback data; delay and loss are settable',
    async (t) => {
      const rx = await receiver()
      t.teardown(rx.close)
      t.teardown(() => meta.setStatusWebhooks(undefined))
      meta.setStatusWebhooks({ url: `${rx.url}/webhook/meta`, delay: 300 })
      const sentAt = Date.now()
      const r = await send({ ...text, biz_opaque_callback_data: 'gwb1:t1:m-1' })
      t.equal(r.status, 200)
      const delivered = await meta.waitForStatus((s) => s.status === 'delivered', 5000)
      t.ok(delivered.at - sentAt >= 290, 'statuses waited for the delay')
      t.same(
        meta.emittedStatuses.map((s) => [s.status, s.callbackData, s.httpStatus, s.lost]),
        [
          ['sent', 'gwb1:t1:m-1', 200, false],
          ['delivered', 'gwb1:t1:m-1', 200, false],
        ],
      )
      const hit = rx.got[0]
      if (hit === undefined) return t.fail('no webhook')
      t.ok(verifyMeta(hit.raw, String(hit.headers['x-hub-signature-256']), num.appSecret), 'signed with the app secret')
      const item = (
        JSON.parse(hit.raw.toString('utf8')) as { entry: { changes: { value: { statuses: unknown[] } }[] }[] }
      ).entry[0]?.changes[0]?.value.statuses[0]
      t.match(item, { id: r.json && (r.json as { messages: { id: string }[] }).messages[0]?.id, status: 'sent' })
      t.match(item, { biz_opaque_callback_data: 'gwb1:t1:m-1', recipient_id: '447700900123' })

      // Accepted, answered with a bare 502: its statuses still go out. Loss 1: none do.
      meta.setStatusWebhooks({ url: `${rx.url}/webhook/meta`, lossRate: 1 })
      meta.failNext(1, { accepted: true, status: 502 })
      const bare = await request(`${meta.url}/v21.0/${num.phoneNumberId}/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${num.accessToken}` },
        body: JSON.stringify(text),
      })
      t.equal(bare.statusCode, 502)
      t.notMatch(await bare.body.text(), /"error"/, 'no Graph error body')
      const lost = await meta.waitForStatus((s) => s.lost && s.status === 'delivered', 5000)
      t.equal(lost.httpStatus, 0)
      t.equal(rx.got.length, 2, 'lost statuses were not sent')
      t.equal(meta.received.at(-1)?.accepted, true, 'recorded as accepted')
    },
  )

  t.test('webhook payload has the batched real shape', async (t) => {
    const p = meta.buildWebhook({
      phoneNumberId: num.phoneNumberId,
      messages: [
        inboundText({ from: '447700900123', body: 'a', timeMs: 1_741_083_242_123 }),
        inboundMedia({ from: '447700900123', type: 'image', mediaId: '77', mimeType: 'image/jpeg', caption: 'c' }),
      ],
      statuses: [
        statusUpdate({ wamid: 'wamid.X', status: 'failed', recipientId: '447700900123', errors: [{ code: 131047 }] }),
      ],
    })
    t.match(p, {
      object: 'whatsapp_business_account',
      entry: [
        {
          id: 'waba-9',
          changes: [
            {
              field: 'messages',
              value: {
                messaging_product: 'whatsapp',
                metadata: { phone_number_id: '1065' },
                contacts: [{ wa_id: '447700900123' }],
                messages: [
                  { from: '447700900123', timestamp: '1741083242', type: 'text', text: { body: 'a' } },
                  { type: 'image', image: { id: '77', mime_type: 'image/jpeg', caption: 'c' } },
                ],
                statuses: [
                  { id: 'wamid.X', status: 'failed', errors: [{ code: 131047, error_data: { details: String } }] },
                ],
              },
            },
          ],
        },
      ],
    })
  })

  t.test('auth and unknown objects answer with Graph envelopes', async (t) => {
    const noAuth = await send(text, '')
    t.equal(noAuth.status, 401)
    t.match(noAuth.json, { error: { type: 'OAuthException', code: 190, fbtrace_id: String } })
    t.match(String(noAuth.headers['www-authenticate']), /invalid_token/)
    const foreign = await send(text, other.accessToken)
    t.equal(foreign.status, 400, "another number's token cannot send from this number")
    t.match(foreign.json, { error: { code: 100, type: 'GraphMethodException', error_subcode: 33 } })
    t.equal(meta.received.length, 2, 'rejected requests are recorded too')
    t.same(
      meta.received.map((r) => r.status),
      [401, 400],
    )
  })

  t.test('body validation: code 100 naming the parameter', async (t) => {
    const cases: [unknown, RegExp][] = [
      [{ to: '447700900123', type: 'text', text: { body: 'x' } }, /messaging_product/],
      [{ messaging_product: 'whatsapp', type: 'text', text: { body: 'x' } }, /\bto\b/],
      [{ ...text, type: 'carousel' }, /type/],
      [
        { messaging_product: 'whatsapp', to: '447700900123', type: 'image', image: { link: 'https://a/b', id: '1' } },
        /link/,
      ],
      [
        { messaging_product: 'whatsapp', to: '447700900123', type: 'audio', audio: { id: '1', caption: 'no' } },
        /caption/,
      ],
      [{ ...text, text: { body: 'é'.repeat(4097) } }, /4096/],
    ]
    for (const [body, re] of cases) {
      const r = await send(body)
      t.equal(r.status, 400)
      t.equal(r.json.error?.code, 100)
      t.match(`${String(r.json.error?.message)} ${JSON.stringify(r.json.error?.error_data ?? '')}`, re)
    }
    t.equal((await send({ ...text, text: { body: 'é'.repeat(4096) } })).status, 200, '4096 is allowed')
    t.equal(meta.messagesTo('447700900123').length, 1)
  })

  t.test('scripted faults: 500, custom status, recipient match', async (t) => {
    meta.failNext(1, { status: 500 })
    meta.failNext(1, { metaCode: 130429, status: 429 })
    const a = await send(text)
    t.equal(a.status, 500)
    t.equal(a.json.error?.code, 131000)
    const b = await send(text)
    t.equal(b.status, 429)
    t.equal(b.json.error?.message, '(#130429) Rate limit hit')
    t.equal((await send(text)).status, 200)
  })

  t.test('rate limits: per number (130429) and per recipient pair (131056)', async (t) => {
    meta.setRateLimits({ perPair: { burst: 1, perSecond: 0.001 } })
    t.equal((await send(text)).status, 200)
    const second = await send(text)
    t.equal(second.json.error?.code, 131056)
    t.equal((await send({ ...text, to: '447700900999' })).status, 200, 'other recipients unaffected')
    meta.setRateLimits({ perNumberMps: 2 })
    const codes = []
    for (let i = 0; i < 3; i++) codes.push((await send({ ...text, to: `4477009001${i}0` })).json.error?.code)
    t.same(codes, [undefined, undefined, 130429])
    meta.setRateLimits(undefined)
  })

  t.test('media links are downloaded with a plain GET and kept with the record', async (t) => {
    const bytes = Buffer.from([0x89, 0x50, 0x4e, 0x47, 1, 2, 3, 250])
    const rx = await receiver(bytes)
    t.teardown(rx.close)
    const r = await send({
      messaging_product: 'whatsapp',
      to: '447700900123',
      type: 'image',
      image: { link: `${rx.url}/presigned/a.png?sig=1`, caption: 'c' },
    })
    t.equal(r.status, 200)
    const rec = await meta.waitFor((m) => m.linkBody !== undefined, 2000)
    t.ok(rec.linkBody?.equals(bytes))
    t.equal(rec.linkStatus, 200)
    t.equal(rx.got[0]?.headers.authorization, undefined, 'no credentials sent to the link host')
  })

  t.test('media URLs need the Bearer and expire', async (t) => {
    const expired = await createFakeMeta({ mediaUrlTtlMs: -2000 })
    t.teardown(() => expired.close())
    expired.addNumber(num)
    for (const [fake, expect] of [
      [meta, 200],
      [expired, 404],
    ] as const) {
      const id = fake.addMedia(num.phoneNumberId, Buffer.from('abc'), 'audio/ogg')
      const info = await request(`${fake.url}/v21.0/${id}`, { headers: { authorization: `Bearer ${num.accessToken}` } })
      const body = (await info.body.json()) as { url: string; sha256: string; file_size: number }
      t.equal(body.file_size, 3)
      t.equal(body.sha256, createHash('sha256').update('abc').digest('hex'))
      const bare = await request(body.url)
      await bare.body.dump()
      t.equal(bare.statusCode, 401, 'a bare GET does not return the file')
      const withToken = await request(body.url, { headers: { authorization: `Bearer ${num.accessToken}` } })
      await withToken.body.dump()
      t.equal(withToken.statusCode, expect)
    }
  })

  t.test('waitFor rejects with what did arrive', async (t) => {
    await send(text)
    await t.rejects(
      meta.waitFor((m) => m.phoneNumberId === 'nope', 50),
      /timed out after 50 ms.*\n.*1065 → 200/s,
    )
  })

  t.test('latency model applies to answers', async (t) => {
    meta.setLatency(120)
    const started = performance.now()
    await send(text)
    meta.setLatency(undefined)
    t.ok(performance.now() - started >= 115)
    const rec = meta.received.at(-1)
    t.ok(rec !== undefined && rec.arrivedAt > performance.timeOrigin, 'arrival time is epoch ms')
  })
})
