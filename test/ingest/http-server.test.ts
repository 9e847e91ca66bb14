/**
 * The node:http ingest server's own limits: the cap on body bytes in flight, the client address
 * behind trusted proxies for the rate limit, and a close that lets requests in progress finish.
 */
import t from 'tap'
import { connect } from 'node:net'
import pino from 'pino'
import { request } from 'undici'
import { parseTrustedProxies } from '../../src/ingest/client-address.js'
import { json, startHttpServer, type IngestLimits } from '../../src/ingest/http-server.js'
import type { Route } from '../../src/ingest/routes.js'

const log = pino({ level: 'silent' })
const ok: Route = { method: 'POST', path: '/x', name: 'x', headers: [], handler: () => json(200, { ok: true }) }

async function server(limits: IngestLimits, routes: Route[] = [ok], maxBodyBytes = 1000) {
  const s = await startHttpServer({ host: '127.0.0.1', port: 0, maxBodyBytes, log, limits, routes })
  return { ...s, url: `http://127.0.0.1:${s.port}` }
}

async function post(url: string, body: string, headers: Record<string, string> = {}) {
  const res = await request(`${url}/x`, { method: 'POST', body, headers })
  return { status: res.statusCode, retryAfter: res.headers['retry-after'], body: await res.body.text() }
}

t.test('bodies in flight beyond the cap get 503 with Retry-After; the cap frees as requests end', async (t) => {
  const s = await server({ rate: false, maxInFlightBytes: 1500 })
  t.teardown(() => s.close())
  // A slow sender holds 1000 declared bytes, of which it has sent 10.
  const sock = connect(s.port, '127.0.0.1')
  t.teardown(() => sock.destroy())
  let answer = ''
  sock.on('data', (d: Buffer) => (answer += d.toString('latin1')))
  await new Promise<void>((resolve) => sock.once('connect', resolve))
  sock.write(`POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n${' '.repeat(10)}`)
  // Wait until the server counts those bytes: a small body still fits, a large one does not.
  let busy = await post(s.url, 'x'.repeat(800))
  for (let i = 0; i < 100 && busy.status === 200; i++) busy = await post(s.url, 'x'.repeat(800))
  t.equal(busy.status, 503, busy.body)
  t.equal(busy.retryAfter, '1')
  t.match(JSON.parse(busy.body), { error: 'busy', reason: /in flight/ })
  t.equal((await post(s.url, 'x'.repeat(400))).status, 200, 'what still fits is served')
  sock.write(' '.repeat(990))
  await new Promise<void>((resolve) => {
    const check = (): void => (answer.includes('\r\n\r\n') ? resolve() : void sock.once('data', check))
    check()
  })
  t.match(answer, /^HTTP\/1\.1 200 /, 'the slow sender is answered')
  t.equal((await post(s.url, 'x'.repeat(800))).status, 200, 'and its bytes are free again')
})

t.test('TRUSTED_PROXIES: the rate limit keys on the client named by a trusted proxy', async (t) => {
  const trusted = parseTrustedProxies(['127.0.0.0/8', '10.0.0.0/8'])
  t.same(trusted.problems, [])
  const s = await server({ rate: { ratePerSec: 0.01, burst: 1 }, trustedProxies: trusted.proxies })
  t.teardown(() => s.close())
  const xff = async (v: string) => (await post(s.url, '{}', { 'x-forwarded-for': v })).status
  t.equal(await xff('203.0.113.5'), 200)
  t.equal(await xff('203.0.113.5'), 429, 'the same client again')
  t.equal(await xff('203.0.113.6'), 200, 'another client behind the same proxy has its own bucket')
  t.equal(await xff('203.0.113.6, 10.1.2.3'), 429, 'trusted hops on the right are skipped')
  t.equal(await xff('198.51.100.1, 203.0.113.7'), 200, 'the rightmost untrusted address is the client')
  t.equal(await xff('198.51.100.2, 203.0.113.7'), 429, 'what the client wrote left of it is not believed')
  t.equal(await xff('garbage, 10.9.9.9'), 200, 'a malformed hop ends the walk at the last trusted one')
})

t.test('TRUSTED_PROXIES: a peer that is not trusted cannot choose its bucket', async (t) => {
  const s = await server({
    rate: { ratePerSec: 0.01, burst: 1 },
    trustedProxies: parseTrustedProxies(['192.0.2.0/24']).proxies,
  })
  t.teardown(() => s.close())
  t.equal((await post(s.url, '{}', { 'x-forwarded-for': '203.0.113.1' })).status, 200)
  t.equal((await post(s.url, '{}', { 'x-forwarded-for': '203.0.113.2' })).status, 429, 'X-Forwarded-For ignored')
})

t.test('TRUSTED_PROXIES: malformed entries are reported, not ignored', async (t) => {
  const { problems } = parseTrustedProxies(['10.0.0.0/8', 'abc', '10.0.0.0/33', '1.2.3.4/', '::1/129', '2001:db8::/32'])
  t.equal(problems.length, 4, problems.join('; '))
  const v6 = parseTrustedProxies(['2001:db8::/32', '192.0.2.1']).proxies
  t.ok(v6.trusts('2001:db8:1::5'))
  t.ok(v6.trusts('::ffff:192.0.2.1'), 'IPv4-mapped IPv6 is its IPv4 address')
  t.notOk(v6.trusts('192.0.2.2'))
})

t.test('close: new connections are refused, a request in progress still gets its answer', async (t) => {
  let release: () => void = () => undefined
  let markStarted: () => void = () => undefined
  const started = new Promise<void>((resolve) => (markStarted = resolve))
  const slow: Route = {
    method: 'POST',
    path: '/x',
    name: 'x',
    headers: [],
    handler: () =>
      new Promise((resolve) => {
        release = () => resolve(json(200, { ok: true }))
        markStarted()
      }),
  }
  const s = await server({ rate: false }, [slow])
  const inFlight = post(s.url, '{}')
  await started
  const closed = s.close()
  const refused = await new Promise<boolean>((resolve) => {
    const sock = connect(s.port, '127.0.0.1')
    sock.once('connect', () => {
      sock.destroy()
      resolve(false)
    })
    sock.once('error', () => resolve(true))
  })
  t.ok(refused, 'a new connection is refused once closing')
  release()
  t.equal((await inFlight).status, 200, 'the request in progress is answered')
  await closed
})
