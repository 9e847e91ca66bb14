import t from 'tap'
import { isBridgeError } from '../../src/errors.js'
import { createFakeGenesys } from '../../src/fakes/fake-genesys.js'
import { createGenesysClient } from '../../src/sinks/genesys-client.js'

const creds = { clientId: 'client-a', clientSecret: 'secret-a' }
const integrationId = '5b0a7c1e-3d2f-4a6b-9c8d-0e1f2a3b4c5d'
const inbound = (text: string) => ({
  channel: {
    messageId: 'wamid.X1',
    time: new Date().toISOString(),
    from: { id: '447700900123', idType: 'Phone', nickname: 'Sam' },
  },
  text,
})

t.test('genesys client against the fake', async (t) => {
  const g = await createFakeGenesys()
  g.addClient({ ...creds, integrationId })
  const client = createGenesysClient({ apiUrl: g.apiUrl, loginUrl: g.loginUrl, connections: 4 })
  t.teardown(async () => {
    await client.close()
    await g.close()
  })
  t.beforeEach(() => g.reset())

  t.test('client credentials → token that the inbound API accepts', async (t) => {
    const before = Date.now()
    const tok = await client.getToken(creds)
    t.ok(tok.accessToken.length > 20)
    t.ok(tok.expiresAt >= before + 86_000_000, 'expiresAt is absolute epoch ms')
    const r = await client.postInboundMessage({ integrationId, accessToken: tok.accessToken, body: inbound('hi') })
    if (!r.ok) return t.fail(JSON.stringify(r))
    t.equal(r.status, 200)
    const got = await g.waitFor((x) => x.kind === 'message')
    t.same((got.body as { text: string }).text, 'hi')
    t.equal(got.integrationId, integrationId)
    t.match(r.body, { id: got.id, direction: 'Inbound' })
  })

  t.test('bad secret → GWB_GENESYS_AUTH, not retryable', async (t) => {
    const err = await client.getToken({ ...creds, clientSecret: 'wrong' }).catch((e: unknown) => e)
    t.ok(isBridgeError(err))
    if (!isBridgeError(err)) return
    t.equal(err.code, 'GWB_GENESYS_AUTH')
    t.equal(err.canRetry, false)
    t.match(err.message, /invalid_client/)
  })

  t.test('login host down → GWB_GENESYS_TRANSIENT, retryable', async (t) => {
    await g.down()
    const err = await client.getToken(creds).catch((e: unknown) => e)
    await g.up()
    t.ok(isBridgeError(err) && err.code === 'GWB_GENESYS_TRANSIENT' && err.canRetry)
  })

  t.test('expired token → 401 with the Genesys error code', async (t) => {
    const tok = await client.getToken(creds)
    g.expireTokens()
    const r = await client.postReceipt({
      integrationId,
      accessToken: tok.accessToken,
      body: {
        id: 'abc',
        channel: { to: { id: '447700900123', idType: 'Phone' }, time: new Date().toISOString() },
        status: 'Delivered',
      },
    })
    if (r.ok) return t.fail('expected 401')
    t.equal(r.status, 401)
    t.equal(r.error.code, 'bad.credentials')
  })

  t.test('429 with Retry-After: 2 → retryAfterMs 2000; without → 3000', async (t) => {
    const tok = await client.getToken(creds)
    g.failNext(1, { status: 429, retryAfterSeconds: 2 })
    g.failNext(1, { status: 429 })
    const a = await client.postInboundMessage({ integrationId, accessToken: tok.accessToken, body: inbound('a') })
    const b = await client.postInboundMessage({ integrationId, accessToken: tok.accessToken, body: inbound('b') })
    t.same(a.ok ? undefined : [a.status, a.retryAfterMs, a.error.code], [429, 2000, 'too.many.requests'])
    t.same(b.ok ? undefined : [b.status, b.retryAfterMs], [429, 3000])
    const c = await client.postInboundMessage({ integrationId, accessToken: tok.accessToken, body: inbound('c') })
    t.equal(c.ok, true)
  })

  t.test('opt-in rate limit answers 429 with Retry-After', async (t) => {
    g.setRateLimit(2)
    const tok = await client.getToken(creds)
    const results = []
    for (let i = 0; i < 3; i++) {
      results.push(
        await client.postInboundMessage({ integrationId, accessToken: tok.accessToken, body: inbound(`m${i}`) }),
      )
    }
    g.setRateLimit(undefined)
    t.same(
      results.map((r) => r.status),
      [200, 200, 429],
    )
    const last = results[2]
    t.ok(last !== undefined && !last.ok && last.retryAfterMs !== undefined && last.retryAfterMs >= 1000)
  })

  t.test('5xx and dropped connections are values, not throws', async (t) => {
    const tok = await client.getToken(creds)
    g.failNext(1, { status: 503 })
    g.failNext(1, { drop: true })
    const a = await client.postEvent({ integrationId, accessToken: tok.accessToken, body: {} })
    const b = await client.postEvent({ integrationId, accessToken: tok.accessToken, body: {} })
    t.same(a.ok ? 0 : a.status, 503)
    t.same(b.ok ? undefined : [b.status, b.network], [0, true])
  })
})
