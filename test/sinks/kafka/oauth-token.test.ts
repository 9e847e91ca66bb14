import { createServer } from 'node:http'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { cachedTokenProvider, tokenExpiry, tokenProvider } from '../../../src/sinks/kafka/oauth-token.js'

t.test('one fetch serves concurrent connections; a new one a minute before expiry', async (t) => {
  let now = 1_000_000
  let fetches = 0
  const provider = cachedTokenProvider(
    async () => ({ value: `tok-${++fetches}`, expiresAt: now + 120_000 }),
    () => now,
  )
  const first = await Promise.all([provider(), provider(), provider()])
  t.same(first, [{ value: 'tok-1' }, { value: 'tok-1' }, { value: 'tok-1' }])
  now += 59_000
  t.same(await provider(), { value: 'tok-1' }, 'still valid for more than the margin')
  now += 2_000
  t.same(await provider(), { value: 'tok-2' }, 'refreshed inside the last minute')
})

t.test('client-credentials grant: client authenticated with Basic, scope sent, expires_in honoured', async (t) => {
  const seen: Array<{ auth: string | undefined; body: string }> = []
  const server = createServer((req, res) => {
    let body = ''
    req.on('data', (c: Buffer) => (body += c.toString()))
    req.on('end', () => {
      seen.push({ auth: req.headers.authorization, body })
      res.setHeader('content-type', 'application/json')
      res.end(JSON.stringify({ access_token: 'jwt-from-idp', token_type: 'Bearer', expires_in: 300 }))
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.teardown(() => new Promise<void>((r) => server.close(() => r())))
  const addr = server.address()
  const port = typeof addr === 'object' && addr !== null ? addr.port : 0
  const provider = tokenProvider({
    mechanism: 'OAUTHBEARER',
    token: {
      kind: 'client-credentials',
      tokenUrl: `http://127.0.0.1:${port}/token`,
      clientId: 'bridge',
      clientSecret: 's3cret',
      scope: 'kafka',
    },
    extensions: { logicalCluster: 'lkc-1', identityPoolId: 'pool-2' },
  })
  const sent = { value: 'jwt-from-idp', extensions: { logicalCluster: 'lkc-1', identityPoolId: 'pool-2' } }
  t.same(await provider(), sent, 'the token with the configured SASL extensions')
  t.same(await provider(), sent)
  t.equal(seen.length, 1, 'cached')
  t.equal(seen[0]?.auth, `Basic ${Buffer.from('bridge:s3cret').toString('base64')}`)
  t.same(Object.fromEntries(new URLSearchParams(seen[0]?.body)), { grant_type: 'client_credentials', scope: 'kafka' })
})

t.test('token file: read when needed, a JWT expires at its own exp; an empty file is an error naming it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gwb-token-'))
  const path = join(dir, 'token')
  const exp = Math.floor(Date.now() / 1000) + 3600
  const jwt = `h.${Buffer.from(JSON.stringify({ exp })).toString('base64url')}.s`
  t.equal(tokenExpiry(jwt, 0), exp * 1000)
  t.equal(tokenExpiry('opaque', 5), 5 + 300_000)
  writeFileSync(path, `${jwt}\n`)
  t.same(await tokenProvider({ mechanism: 'OAUTHBEARER', token: { kind: 'file', path }, extensions: undefined })(), {
    value: jwt,
  })
  writeFileSync(path, '')
  await t.rejects(tokenProvider({ mechanism: 'OAUTHBEARER', token: { kind: 'file', path }, extensions: undefined })(), {
    code: 'GWB_KAFKA_AUTH',
    message: /KAFKA_SASL_OAUTH_TOKEN_FILE .*token.* the file is empty/,
  })
})
