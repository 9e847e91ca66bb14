import { createHmac } from 'node:crypto'
import { createServer, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { request } from 'undici'
import { createFakeGenesys } from '../../src/fakes/fake-genesys.js'
import { verifyGenesys, verifyMeta } from '../../src/fakes/sign.js'

const integrationId = 'int-1'
const client = { clientId: 'cid', clientSecret: 'csecret', integrationId }
const other = { clientId: 'cid2', clientSecret: 'csecret2', integrationId: 'int-2' }
const now = () => new Date().toISOString()

async function receiver() {
  const got: { raw: Buffer; headers: IncomingHttpHeaders }[] = []
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      got.push({ raw: Buffer.concat(chunks), headers: req.headers })
      res.writeHead(200).end()
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return { got, url, close: () => new Promise<void>((r) => server.close(() => r())) }
}

t.test('fake Genesys', async (t) => {
  const g = await createFakeGenesys()
  g.addClient(client)
  g.addClient({ ...other, tokenTtlSeconds: 1 })
  t.teardown(() => g.close())
  t.beforeEach(() => g.reset())

  async function login(
    id: string,
    secret: string,
    body = 'grant_type=client_credentials',
    ct = 'application/x-www-form-urlencoded',
  ) {
    const res = await request(`${g.loginUrl}/oauth/token`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`, 'content-type': ct },
      body,
    })
    return { status: res.statusCode, json: (await res.body.json()) as Record<string, unknown> }
  }
  async function token(c = client): Promise<string> {
    return String((await login(c.clientId, c.clientSecret)).json.access_token)
  }
  async function post(kind: string, body: unknown, bearer?: string, integration = integrationId) {
    const res = await request(`${g.apiUrl}/api/v2/conversations/messages/${integration}/inbound/open/${kind}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(bearer ? { authorization: `Bearer ${bearer}` } : {}) },
      body: JSON.stringify(body),
    })
    return { status: res.statusCode, json: (await res.body.json()) as Record<string, unknown> }
  }
  const message = (extra: Record<string, unknown> = {}) => ({
    channel: { messageId: 'wamid.1', time: now(), from: { id: '447700900123', idType: 'Phone' } },
    text: 'hello',
    ...extra,
  })
  const receipt = (extra: Record<string, unknown> = {}) => ({
    id: 'gen-msg-1',
    channel: { to: { id: '447700900123', idType: 'Phone' }, time: now() },
    status: 'Delivered',
    direction: 'Outbound',
    isFinalReceipt: false,
    ...extra,
  })

  t.test('outbound webhook is signed with Base64 HMAC-SHA256 of the raw body', async (t) => {
    const rx = await receiver()
    t.teardown(rx.close)
    const body = g.buildOutbound({ integrationId, conversationId: 'conv-1', toId: '447700900123', text: 'Grüße' })
    const r = await g.sendOutboundWebhook(`${rx.url}/webhook/genesys`, body, 'a-secret-longer-than-15')
    t.equal(r.status, 200)
    const hit = rx.got[0]
    if (hit === undefined) return t.fail('no request')
    const header = String(hit.headers['x-hub-signature-256'])
    t.equal(header, `sha256=${createHmac('sha256', 'a-secret-longer-than-15').update(hit.raw).digest('base64')}`)
    t.ok(verifyGenesys(hit.raw, header, 'a-secret-longer-than-15'))
    t.notOk(verifyMeta(hit.raw, header, 'a-secret-longer-than-15'), 'Base64 is not hex')
    t.notOk(verifyGenesys(hit.raw, header, 'wrong-secret'))
  })

  t.test('buildOutbound produces the Open Messaging outbound shape', async (t) => {
    const b = g.buildOutbound({
      integrationId,
      conversationId: 'conv-1',
      toId: '447700900123',
      text: 'see attached',
      attachment: { url: 'https://dl.example/x.pdf', mime: 'application/pdf', filename: 'x.pdf' },
    })
    t.match(b, {
      id: /^[0-9a-f]{32}$/,
      channel: {
        id: integrationId,
        platform: 'Open',
        type: 'Private',
        to: { id: '447700900123', idType: 'Phone' },
        from: { id: integrationId, idType: 'Opaque' },
        time: /^\d{4}-\d\d-\d\dT.*Z$/,
      },
      conversationId: 'conv-1',
      direction: 'Outbound',
      originatingEntity: 'Human',
      type: 'Text',
      text: 'see attached',
      content: [
        { contentType: 'Attachment', attachment: { mediaType: 'File', mime: 'application/pdf', filename: 'x.pdf' } },
      ],
    })
    t.equal((b.channel as { messageId: string }).messageId, b.id)
    t.match(g.buildOutbound({ integrationId, toId: '1', typing: true }), {
      type: 'Event',
      events: [{ eventType: 'Typing', typing: { type: 'On' } }],
    })
    t.match(g.buildOutbound({ integrationId, toId: '1', template: { id: 'ns@order_update' } }), {
      type: 'Structured',
      content: [{ contentType: 'Notification', template: { id: 'ns@order_update' } }],
    })
  })

  t.test('OAuth client credentials: success and the real error bodies', async (t) => {
    const ok = await login(client.clientId, client.clientSecret)
    t.equal(ok.status, 200)
    t.match(ok.json, { access_token: String, token_type: 'bearer', expires_in: 86400 })
    const bad = await login(client.clientId, 'nope')
    t.equal(bad.status, 401)
    t.match(bad.json, { error: 'invalid_client', error_description: String })
    t.match((await login(client.clientId, client.clientSecret, 'grant_type=password')).json, {
      error: 'unsupported_grant_type',
    })
    t.equal((await login(client.clientId, client.clientSecret, '{}', 'application/json')).status, 400)
    t.same(
      g.tokenRequests.map((r) => [r.clientId, r.status]),
      [
        ['cid', 200],
        ['cid', 401],
        ['cid', 400],
        ['cid', 400],
      ],
    )
  })

  t.test('tokens expire after their TTL', async (t) => {
    const tok = await token(other)
    t.equal((await post('message', message(), tok, other.integrationId)).status, 200)
    await new Promise((r) => setTimeout(r, 1100))
    const expired = await post('message', message(), tok, other.integrationId)
    t.equal(expired.status, 401)
    t.match(expired.json, { status: 401, code: 'bad.credentials', message: String, contextId: String })
  })

  t.test('bearer checks: missing, other integration, unknown integration', async (t) => {
    t.match((await post('message', message())).json, { status: 401, code: 'authentication.required' })
    const tok = await token()
    t.equal((await post('message', message(), tok, other.integrationId)).status, 403)
    t.equal((await post('message', message(), tok, 'no-such')).status, 404)
  })

  t.test('inbound message validation', async (t) => {
    const tok = await token()
    const bad: [unknown, RegExp][] = [
      [{ ...message(), channel: { time: now(), from: { id: 'x' } } }, /idType/],
      [{ ...message(), channel: { from: { id: 'x', idType: 'Phone' } } }, /time/],
      [{ channel: message().channel }, /text, content/],
      [
        message({ content: [{ contentType: 'Attachment', attachment: { mediaType: 'Image', mime: 'image/png' } }] }),
        /url/,
      ],
    ]
    for (const [body, re] of bad) {
      const r = await post('message', body, tok)
      t.equal(r.status, 400)
      t.match(r.json, { status: 400, code: 'bad.request', message: re, contextId: String })
    }
    const good = await post('message', message(), tok)
    t.equal(good.status, 200)
    t.match(good.json, { id: /^[0-9a-f]{32}$/, text: 'hello', direction: 'Inbound', channel: { id: integrationId } })
    t.same(
      g.received.map((r) => r.status),
      [400, 400, 400, 400, 200],
    )
  })

  t.test('receipt validation: Delivered|Failed, Failed needs valid reasons', async (t) => {
    const tok = await token()
    t.equal((await post('receipt', receipt({ status: 'Read' }), tok)).status, 400)
    t.equal((await post('receipt', receipt({ status: 'Failed' }), tok)).status, 400)
    const badCode = await post('receipt', receipt({ status: 'Failed', reasons: [{ code: 'Oops', message: 'x' }] }), tok)
    t.match(badCode.json, { message: /Oops/ })
    t.equal((await post('receipt', receipt({ status: 'Failed', reasons: [{ code: 'RateLimited' }] }), tok)).status, 400)
    const ok = await post(
      'receipt',
      receipt({ status: 'Failed', isFinalReceipt: true, reasons: [{ code: 'MessageNotAllowed', message: '131047' }] }),
      tok,
    )
    t.equal(ok.status, 200)
    t.equal(ok.json.id, 'gen-msg-1', 'receipt keeps the Genesys message id')
    const ev = await post(
      'event',
      { channel: message().channel, events: [{ eventType: 'Typing', typing: { type: 'On' } }] },
      tok,
    )
    t.equal(ev.status, 200)
  })

  t.test('inbound attachment URLs are downloaded like Genesys does', async (t) => {
    const tok = await token()
    const bytes = Buffer.from('jpeg-bytes-\u0000\u00ff')
    const url = g.addDownload(bytes, 'image/jpeg')
    const r = await post(
      'message',
      message({
        content: [{ contentType: 'Attachment', attachment: { mediaType: 'Image', mime: 'image/jpeg', url } }],
      }),
      tok,
    )
    t.equal(r.status, 200)
    const rec = await g.waitFor((x) => x.urlBody !== undefined, 2000)
    t.ok(rec.urlBody?.equals(bytes))
    t.equal(rec.urlContentType, 'image/jpeg')
  })

  t.test('down(): 503 with a Genesys body, then back up', async (t) => {
    const tok = await token()
    await g.down()
    const r = await post('message', message(), tok)
    await g.up()
    t.equal(r.status, 503)
    t.match(r.json, { status: 503, code: String })
    t.equal((await post('message', message(), tok)).status, 200)
  })
})
