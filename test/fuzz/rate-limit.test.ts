import t from 'tap'
import { connect } from 'node:net'
import pino from 'pino'
import { request } from 'undici'
import { json, startHttpServer } from '../../src/ingest/http-server.js'
import { createRateLimiter, sourceKey } from '../../src/ingest/rate-limit.js'

t.test('token bucket: burst, refill, Retry-After', async (t) => {
  const rl = createRateLimiter({ ratePerSec: 2, burst: 3 })
  t.same(rl.take('a', 0), { ok: true })
  t.same(rl.take('a', 0), { ok: true })
  t.same(rl.take('a', 0), { ok: true })
  t.same(rl.take('a', 0), { ok: false, retryAfterSec: 1 }, 'fourth request in the same instant is refused')
  t.same(rl.take('b', 0), { ok: true }, 'another source has its own bucket')
  // 2 tokens/s: after 499 ms less than one token has come back (the refused take cost nothing).
  t.same(rl.take('a', 499), { ok: false, retryAfterSec: 1 })
  t.same(rl.take('a', 500), { ok: true }, 'one token after 500 ms')
  t.same(rl.take('a', 500), { ok: false, retryAfterSec: 1 })
  // Never more than the burst, however long the source was quiet.
  t.same(rl.take('a', 100_000), { ok: true })
  t.same(rl.take('a', 100_000), { ok: true })
  t.same(rl.take('a', 100_000), { ok: true })
  t.same(rl.take('a', 100_000), { ok: false, retryAfterSec: 1 })
  // A clock going backwards mints nothing.
  t.same(rl.take('a', 50_000), { ok: false, retryAfterSec: 1 })
})

t.test('token bucket: Retry-After is whole seconds until one token is back', async (t) => {
  const rl = createRateLimiter({ ratePerSec: 0.1, burst: 1 })
  t.same(rl.take('x', 0), { ok: true })
  t.same(rl.take('x', 0), { ok: false, retryAfterSec: 10 })
  t.same(rl.take('x', 2500), { ok: false, retryAfterSec: 8 }, '7.5 s left rounds up to 8')
  t.same(rl.take('x', 10_000), { ok: true })
})

t.test('token bucket: memory stays bounded', async (t) => {
  const rl = createRateLimiter({ ratePerSec: 10, burst: 10, maxSources: 100 })
  for (let i = 0; i < 10_000; i++) rl.take(`s${i}`, i / 1000)
  t.equal(rl.size(), 100, 'never more than maxSources')
  // Buckets untouched for longer than a full refill (1 s here) are forgotten.
  rl.take('late', 60_000)
  t.equal(rl.size(), 1)
  // An evicted source comes back with a full bucket, never a fresh refusal.
  const small = createRateLimiter({ ratePerSec: 1, burst: 1, maxSources: 2 })
  small.take('a', 0)
  t.same(small.take('a', 0), { ok: false, retryAfterSec: 1 })
  small.take('b', 0)
  small.take('c', 0)
  t.equal(small.size(), 2)
  t.same(small.take('a', 0), { ok: true })
})

t.test('token bucket: configuration is checked', async (t) => {
  t.throws(() => createRateLimiter({ ratePerSec: 0, burst: 1 }), RangeError)
  t.throws(() => createRateLimiter({ ratePerSec: 1, burst: 0 }), RangeError)
  t.throws(() => createRateLimiter({ ratePerSec: Number.NaN, burst: 1 }), RangeError)
  t.throws(() => createRateLimiter({ ratePerSec: 1, burst: 1, maxSources: 0 }), RangeError)
})

t.test('source keys: IPv4, mapped IPv4, IPv6 /64', async (t) => {
  t.equal(sourceKey('127.0.0.1'), '127.0.0.1')
  t.equal(sourceKey('::ffff:10.1.2.3'), '10.1.2.3')
  t.equal(sourceKey('0000:0000:0000:0000:0000:ffff:7f00:0001'), '127.0.0.1')
  t.equal(sourceKey('2001:db8:1:2:aaaa:bbbb:cccc:dddd'), '2001:0db8:0001:0002::/64')
  t.equal(sourceKey('2001:DB8:1:2::1'), '2001:0db8:0001:0002::/64', 'same /64, compressed and upper case')
  t.equal(sourceKey('::1'), '0000:0000:0000:0000::/64')
  t.equal(sourceKey('not:an:address::x'), 'not:an:address::x', 'unparseable text is its own key')
})

const log = pino({ level: 'silent' })

t.test('http server: 429 with a JSON reason and Retry-After once a source exceeds its bucket', async (t) => {
  const server = await startHttpServer({
    host: '127.0.0.1',
    port: 0,
    maxBodyBytes: 1024,
    log,
    limits: { rate: { ratePerSec: 1, burst: 3 } },
    routes: [{ method: 'POST', path: '/x', name: 'x', headers: [], handler: () => json(200, { ok: true }) }],
  })
  t.teardown(() => server.close())
  const url = `http://127.0.0.1:${server.port}`
  const statuses: number[] = []
  let refused: { retryAfter: unknown; body: unknown } | undefined
  for (let i = 0; i < 5; i++) {
    const res = await request(`${url}/x`, { method: 'POST', body: '{}' })
    statuses.push(res.statusCode)
    const text = await res.body.text()
    if (res.statusCode === 429) refused = { retryAfter: res.headers['retry-after'], body: JSON.parse(text) }
  }
  t.same(statuses, [200, 200, 200, 429, 429])
  t.equal(refused?.retryAfter, '1')
  t.match(refused?.body, { error: 'rate_limited', reason: /retry in 1 s/ })
  // Unrouted paths count too: a flood of 404s is still a flood.
  const nf = await request(`${url}/nope`)
  t.equal(nf.statusCode, 429)
  await nf.body.text()
})

t.test('http server: a body trickled past the deadline gets a 408 and a closed connection', async (t) => {
  const server = await startHttpServer({
    host: '127.0.0.1',
    port: 0,
    maxBodyBytes: 1024,
    log,
    limits: { bodyTimeoutMs: 300, rate: false },
    routes: [{ method: 'POST', path: '/x', name: 'x', headers: [], handler: () => json(200, { ok: true }) }],
  })
  t.teardown(() => server.close())
  const reply = await new Promise<string>((resolve, reject) => {
    const sock = connect(server.port, '127.0.0.1')
    let got = ''
    sock.on('data', (d: Buffer) => (got += d.toString('latin1')))
    sock.on('close', () => resolve(got))
    sock.on('error', reject)
    sock.write('POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{')
    const drip = setInterval(() => sock.write(' '), 50)
    sock.on('close', () => clearInterval(drip))
  })
  t.match(reply, /^HTTP\/1\.1 408 /)
  t.match(reply, /"error":"body_timeout"/)
})
