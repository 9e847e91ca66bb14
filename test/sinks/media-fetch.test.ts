import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import fc from 'fast-check'
import t from 'tap'
import { createFakeGenesys } from '../../src/fakes/fake-genesys.js'
import type { BearerRule, HostRules } from '../../src/processors/fetch-policy.js'
import { createByteBudget } from '../../src/semaphore.js'
import { createMediaFetcher, type Resolver } from '../../src/sinks/media-fetch.js'
import { dotted, v4Forms } from '../helpers/url-forms.js'

/**
 * The socket half of the fetch policy: redirects followed and re-checked by the fetcher, the
 * bearer token, the byte and time caps, and the address check at connect time. Host names ending
 * in `.test` resolve through the resolver given to the fetcher (as a DNS server would answer).
 */

interface Seen {
  path: string
  authorization: string | undefined
}

async function server(handler: (req: IncomingMessage, res: ServerResponse) => void) {
  const seen: Seen[] = []
  const s: Server = createServer((req, res) => {
    seen.push({ path: req.url ?? '', authorization: req.headers.authorization })
    handler(req, res)
  })
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))
  return { seen, port: (s.address() as AddressInfo).port, close: () => s.close() }
}

function fetcherWith(insecure: string[], resolve?: Resolver, extra: Partial<{ totalTimeoutMs: number }> = {}) {
  return createMediaFetcher({
    connectTimeoutMs: 2000,
    headersTimeoutMs: 5000,
    bodyTimeoutMs: 5000,
    totalTimeoutMs: extra.totalTimeoutMs ?? 10_000,
    budget: createByteBudget(100_000_000),
    insecureOrigins: new Set(insecure),
    ...(resolve === undefined ? {} : { resolve }),
  })
}

const names: Resolver = async (host) => (host.endsWith('.test') ? ['127.0.0.1'] : [])
const rules = (https: string[], insecure: string[]): HostRules => ({
  https: new Set(https),
  insecure: new Set(insecure),
})

t.test('Genesys downloads: plain GET first, the token on 401 to its own host only', async (t) => {
  const g = await createFakeGenesys()
  g.addClient({ clientId: 'c', clientSecret: 's', integrationId: 'int-1' })
  const host = new URL(g.apiUrl).host
  const f = fetcherWith([host])
  t.teardown(async () => {
    await f.close()
    await g.close()
  })
  const token = (await (await fetch(`${g.loginUrl}/oauth/token`, tokenRequest())).json()) as { access_token: string }
  const bearer: BearerRule = { hosts: new Set([host]), pathPrefix: '/api/v2/downloads/' }
  const req = { rules: rules([], [host]), maxBytes: 1_000_000 }
  const bytes = Buffer.from('%PDF-1.4 invoice')
  const url = g.addDownload(bytes, 'application/pdf', { requireAuth: true })

  const got = await f.get(url, { ...req, bearer: { token: token.access_token, rule: bearer, when: 'on-401-403' } })
  if (!got.ok) return t.fail(JSON.stringify(got))
  t.ok(got.bytes.equals(bytes))
  t.equal(got.contentType, 'application/pdf')
  t.equal(got.usedBearer, true)
  t.same(
    g.downloadRequests.map((d) => [d.withBearer, d.status]),
    [
      [false, 401],
      [true, 200],
    ],
  )
  t.same(await f.get(url, req), { ok: false, kind: 'status', status: 401 }, 'no token, no retry')
  const offPath = { hosts: bearer.hosts, pathPrefix: '/elsewhere/' }
  const refusedToken = await f.get(url, {
    ...req,
    bearer: { token: token.access_token, rule: offPath, when: 'always' },
  })
  t.same(refusedToken, { ok: false, kind: 'status', status: 401 }, 'the token only goes under its path')
  const open = g.addDownload(bytes, 'application/pdf')
  const plain = await f.get(open, { ...req, bearer: { token: token.access_token, rule: bearer, when: 'on-401-403' } })
  t.equal(plain.ok && plain.usedBearer, false, 'no token when the plain GET works')
  t.same(await f.get(open, { ...req, maxBytes: 10 }), { ok: false, kind: 'too-large', status: 200 })
})

t.test('the token never follows a redirect off its origin', async (t) => {
  const other = await server((_req, res) => res.end('other'))
  const origin = await server((req, res) => {
    if (req.headers.authorization === undefined) {
      res.writeHead(401).end()
      return
    }
    res.writeHead(302, { location: `http://other.test:${other.port}/api/v2/downloads/x` }).end('moved')
  })
  const hosts = [`origin.test:${origin.port}`, `other.test:${other.port}`]
  const f = fetcherWith(hosts, names)
  t.teardown(async () => {
    await f.close()
    origin.close()
    other.close()
  })
  // Even a rule naming both hosts does not let the token cross: it stays with the first origin.
  const rule: BearerRule = { hosts: new Set(hosts), pathPrefix: '/' }
  for (const when of ['on-401-403', 'always'] as const) {
    const got = await f.get(`http://origin.test:${origin.port}/api/v2/downloads/a`, {
      rules: rules([], hosts),
      maxBytes: 1000,
      bearer: { token: 'secret-token', rule, when },
    })
    t.equal(got.ok && got.bytes.toString(), 'other', `${when}: the redirect was followed`)
  }
  t.ok(
    other.seen.every((s) => s.authorization === undefined),
    'the other origin never saw the token',
  )
  t.equal(other.seen.length, 2)
})

t.test('redirects: at most 3, each hop re-checked', async (t) => {
  let target = ''
  const loop = await server((_req, res) => res.writeHead(302, { location: target }).end())
  const key = `loop.test:${loop.port}`
  const f = fetcherWith([key], names)
  t.teardown(async () => {
    await f.close()
    loop.close()
  })
  const get = () => f.get(`http://${key}/start`, { rules: rules([], [key]), maxBytes: 1000 })

  target = '/again'
  t.match(await get(), { ok: false, kind: 'refused', reason: 'too_many_redirects' })
  t.equal(loop.seen.length, 4, 'the first request and 3 redirects, no fifth')
  for (const [to, reason] of [
    ['http://127.0.0.1:1/', 'scheme_not_allowed'],
    ['https://127.0.0.1:1/', 'host_not_allowed'],
    ['https://user@loop.test/', 'userinfo'],
    ['file:///etc/passwd', 'scheme_not_allowed'],
    ['http://[::1]:1/', 'scheme_not_allowed'],
  ] as const) {
    target = to
    t.match(await get(), { ok: false, kind: 'refused', reason }, `redirect to ${to}`)
  }
})

t.test('the address is checked at connect time, for every address a name resolves to', async (t) => {
  const canary = await server((_req, res) => res.end('canary'))
  const cases: [string, string[]][] = [
    ['loopback', ['127.0.0.1']],
    ['a public address next to a private one', ['8.8.8.8', '10.0.0.1']],
    ['cloud metadata', ['169.254.169.254']],
    ['IPv4-mapped loopback', ['::ffff:127.0.0.1']],
    ['no address at all', []],
  ]
  for (const [name, answer] of cases) {
    const f = fetcherWith([], async () => answer)
    const got = await f.get(`https://files.test:${canary.port}/x`, {
      rules: rules([`files.test:${canary.port}`], []),
      maxBytes: 1000,
    })
    await f.close()
    t.match(got, { ok: false, kind: 'refused', reason: 'address_not_public' }, name)
  }
  canary.close()
  t.equal(canary.seen.length, 0, 'nothing connected')
})

t.test('byte and time caps', async (t) => {
  const big = await server((_req, res) => {
    res.write(Buffer.alloc(600))
    res.end(Buffer.alloc(600))
  })
  const slow = await server((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/pdf' })
    const timer = setInterval(() => res.write('x'), 50)
    res.on('close', () => clearInterval(timer))
  })
  const keys = [`big.test:${big.port}`, `slow.test:${slow.port}`]
  const f = fetcherWith(keys, names, { totalTimeoutMs: 500 })
  t.teardown(async () => {
    await f.close()
    big.close()
    slow.close()
  })
  const r = rules([], keys)
  t.match(await f.get(`http://${keys[0]}/`, { rules: r, maxBytes: 1000 }), { ok: false, kind: 'too-large' })
  t.match(await f.get(`http://${keys[0]}/`, { rules: r, maxBytes: 1200 }), { ok: true })
  const started = Date.now()
  t.match(await f.get(`http://${keys[1]}/`, { rules: r, maxBytes: 1_000_000 }), {
    ok: false,
    kind: 'network',
    code: 'TIMEOUT',
  })
  t.ok(Date.now() - started < 5000, 'a body that never ends is abandoned at the total-time cap')
})

t.test('bytes in flight: a download waits while the budget is spent', async (t) => {
  let open = 0
  let most = 0
  const slow = await server((_req, res) => {
    open++
    most = Math.max(most, open)
    setTimeout(() => {
      open--
      res.end('done')
    }, 200)
  })
  const key = `slow.test:${slow.port}`
  const refused: string[] = []
  // Room for one download of 1000 bytes at a time.
  const f = createMediaFetcher({
    connectTimeoutMs: 2000,
    headersTimeoutMs: 5000,
    bodyTimeoutMs: 5000,
    totalTimeoutMs: 10_000,
    budget: createByteBudget(1500),
    insecureOrigins: new Set([key]),
    resolve: names,
    onRefused: (reason) => refused.push(reason),
  })
  t.teardown(async () => {
    await f.close()
    slow.close()
  })
  const r = rules([], [key])
  const all = await Promise.all([1, 2, 3].map(() => f.get(`http://${key}/x`, { rules: r, maxBytes: 1000 })))
  t.ok(
    all.every((x) => x.ok),
    'all three finish',
  )
  t.equal(most, 1, 'never two at once')
  t.match(await f.get(`https://elsewhere.test/x`, { rules: r, maxBytes: 10 }), { reason: 'host_not_allowed' })
  t.same(refused, ['host_not_allowed'], 'refusals are reported (gwb_fetch_refusals_total)')
})

t.test('property: whatever a redirect names, a local server that is not allowed gets no request', async (t) => {
  const canary = await server((_req, res) => res.end('canary'))
  let next = ''
  const hop = await server((_req, res) => res.writeHead(302, { location: next }).end())
  const hopKey = `media.test:${hop.port}`
  const p = canary.port
  // Where a redirect may point: the canary by every spelling of 127.0.0.1 and of loopback names,
  // other loopback and private addresses, names (all resolving to 127.0.0.1 here), userinfo.
  const refusedV4 = fc.oneof(
    fc.constant(0x7f000001),
    fc.integer({ min: 0x7f000000, max: 0x7fffffff }),
    fc.integer({ min: 0x0a000000, max: 0x0affffff }),
    fc.integer({ min: 0xc0a80000, max: 0xc0a8ffff }),
    fc.constant(0xa9fea9fe),
  )
  const hostText = fc.oneof(
    fc.tuple(refusedV4, fc.nat()).map(([n, i]) => v4Forms(n)[i % v4Forms(n).length] ?? dotted(n)),
    fc.constantFrom('localhost', 'LOCALHOST.', 'rebind.test', 'rebind.test.', '[::1]', '[::ffff:7f00:1]', '[::]'),
    fc.stringMatching(/^[a-z][a-z0-9-]{0,10}\.test$/),
  )
  const location = fc
    .tuple(
      fc.constantFrom('http://', 'https://', '//', 'HTTPS://', 'https:\\\\'),
      fc.option(fc.constantFrom(`${hopKey}@`, 'user:pw@', 'a@'), { nil: '' }),
      hostText,
      fc.constantFrom(`:${p}`, '', ':443', ':80'),
      fc.constantFrom('/', '/api/v2/downloads/x', '?a=1', '#f', '/%2e%2e/'),
    )
    .map((parts) => parts.join(''))
  const resolveAll: Resolver = async (host) => (host === 'localhost' ? ['127.0.0.1', '::1'] : ['127.0.0.1'])
  const f = fetcherWith([hopKey], resolveAll)
  t.teardown(async () => {
    await f.close()
    canary.close()
    hop.close()
  })
  // Every name on the canary's port is allowed over https, so only the scheme, the userinfo rule
  // and the connect-time check stand in the way.
  const allowed: HostRules = {
    https: { has: (key: string) => key.endsWith(`:${p}`) || key.endsWith(':443') },
    insecure: new Set([hopKey]),
  }
  await fc.assert(
    fc.asyncProperty(location, async (to) => {
      next = to
      const got = await f.get(`http://${hopKey}/r`, {
        rules: allowed,
        maxBytes: 1000,
        bearer: { token: 'tok', rule: { hosts: new Set([hopKey]), pathPrefix: '/' }, when: 'always' },
      })
      return !got.ok && got.kind === 'refused' && canary.seen.length === 0
    }),
    { seed: 20261129, numRuns: 10_000 * Number(process.env['FUZZ_RUNS'] ?? '1') },
  )
  t.equal(canary.seen.length, 0)
})

function tokenRequest(): RequestInit {
  return {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from('c:s').toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: 'grant_type=client_credentials',
  }
}
