import { randomUUID } from 'node:crypto'
import { lookup } from 'node:dns/promises'
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { startHarness } from '../helpers/bridge-harness.js'

/**
 * Server-side request forgery through a Genesys attachment URL, on the real stack: a canary HTTP
 * server on the loopback interface must receive no request whatever the URL calls it, the agent
 * gets a Failed receipt naming the refusal, and nothing the bridge fetched reaches the receipt.
 *
 * Host names: `rebind.example.test` and `media.example.test` resolve to 127.0.0.1 through the
 * resolver the test gives the bridge (production resolves with dns.lookup; the connect-time check
 * is the same code either way). `localhost` is resolved by the machine's own resolver.
 */

const customer = '447700900123'
const SECRET = `CANARY-${randomUUID()}`

interface Hit {
  url: string
  headers: IncomingHttpHeaders
}

async function listen(server: Server, port: number, host: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => resolve())
  })
  return (server.address() as AddressInfo).port
}

t.test('attachment URLs cannot reach the machine itself', async (t) => {
  const hits: Hit[] = []
  const record = (req: { url?: string; headers: IncomingHttpHeaders }) =>
    hits.push({ url: req.url ?? '', headers: req.headers })
  const canary4 = createServer((req, res) => {
    record(req)
    res.end(SECRET)
  })
  const canaryPort = await listen(canary4, 0, '127.0.0.1')
  // The same port on ::1, so [::1] names the canary too (skipped where the machine has no IPv6).
  const canary6 = createServer((req, res) => {
    record(req)
    res.end(SECRET)
  })
  const v6 = await listen(canary6, canaryPort, '::1').then(
    () => true,
    () => false,
  )
  const redirects: Hit[] = []
  const redirector = createServer((req, res) => {
    redirects.push({ url: req.url ?? '', headers: req.headers })
    const to = new URL(req.url ?? '/', 'http://x').searchParams.get('to') ?? '/'
    res.writeHead(302, { location: to, 'content-type': 'text/plain' })
    res.end(`redirect body ${SECRET}`)
  })
  const redirectPort = await listen(redirector, 0, '127.0.0.1')
  t.teardown(() => {
    for (const s of [canary4, canary6, redirector]) s.close()
  })

  const names: Record<string, string> = { 'rebind.example.test': '127.0.0.1', 'media.example.test': '127.0.0.1' }
  const resolve = async (host: string) =>
    names[host] !== undefined ? [names[host]] : (await lookup(host, { all: true })).map((a) => a.address)
  const h = await startHarness(
    {
      // Names that pass the URL check, so only the connect-time address check stands in the way.
      FETCH_ALLOWED_HOSTS: `localhost:${canaryPort},rebind.example.test:${canaryPort}`,
      // A public-looking host, allowed and reachable (it is local, listed like the fakes), that redirects.
      FETCH_INSECURE_ORIGINS: `media.example.test:${redirectPort}`,
    },
    { resolve },
  )
  t.teardown(() => h.close())

  const at = (host: string, scheme = 'http') => `${scheme}://${host}:${canaryPort}/api/v2/downloads/${randomUUID()}`
  const via = (to: string) =>
    `http://media.example.test:${redirectPort}/api/v2/downloads/r?to=${encodeURIComponent(to)}`
  const cases: [name: string, url: string, reason: string][] = [
    ['127.0.0.1', at('127.0.0.1'), 'scheme_not_allowed'],
    ['127.0.0.1 over https', at('127.0.0.1', 'https'), 'host_not_allowed'],
    ['localhost (an allowed name resolving to loopback)', at('localhost', 'https'), 'address_not_public'],
    ['[::1]', at('[::1]', 'https'), 'host_not_allowed'],
    ['2130706433', at('2130706433', 'https'), 'host_not_allowed'],
    ['0x7f.1', at('0x7f.1', 'https'), 'host_not_allowed'],
    ['a DNS name that resolves to 127.0.0.1', at('rebind.example.test', 'https'), 'address_not_public'],
    ['userinfo naming a Genesys host', `https://api.mypurecloud.ie@127.0.0.1:${canaryPort}/x`, 'userinfo'],
    ['an allowed host redirecting to 127.0.0.1', via(at('127.0.0.1')), 'scheme_not_allowed'],
    ['an allowed host redirecting to localhost', via(at('localhost', 'https')), 'address_not_public'],
    ['an allowed host redirecting to the DNS name', via(at('rebind.example.test', 'https')), 'address_not_public'],
  ]

  const sent = cases.map(([name, url, reason]) => {
    const body = h.genesys.buildOutbound({
      integrationId: h.tenant.genesys.integrationId,
      conversationId: randomUUID(),
      toId: customer,
      text: 'your file',
      attachment: { url, mime: 'application/pdf', mediaType: 'File', filename: 'a.pdf' },
    })
    return { name, reason, body, id: (body as { id: string }).id }
  })
  // A template's header media goes through the same policy.
  const template = h.genesys.buildOutbound({
    integrationId: h.tenant.genesys.integrationId,
    conversationId: randomUUID(),
    toId: customer,
    template: {
      id: 'ns@your_file',
      header: { type: 'Media', media: { url: at('localhost', 'https'), mime: 'image/png', mediaType: 'Image' } },
    },
  })
  sent.push({
    name: 'a template header naming localhost',
    reason: 'address_not_public',
    body: template,
    id: (template as { id: string }).id,
  })
  for (const s of sent) t.equal((await h.postGenesys(s.body)).status, 200, `${s.name}: webhook accepted`)

  for (const s of sent) {
    const receipt = await h.genesys.waitFor(
      (r) => r.kind === 'receipt' && (r.body as { id: string }).id === s.id,
      30_000,
    )
    const body = receipt.body as { status: string; reasons: { code: string; message: string }[] }
    t.equal(body.status, 'Failed', `${s.name}: a Failed receipt`)
    t.match(body.reasons[0]?.message, `refused by the fetch policy: ${s.reason}`, `${s.name}: names the refusal`)
    t.notMatch(receipt.raw, SECRET, `${s.name}: nothing fetched in the receipt`)
  }
  t.equal(hits.length, 0, `the canary received no request${v6 ? ' (on 127.0.0.1 or ::1)' : ' (no IPv6 here)'}`)
  t.equal(redirects.length, 3, 'the allowed host was asked once per redirect case')
  t.ok(
    [...hits, ...redirects].every((x) => x.headers.authorization === undefined),
    'no request carried an Authorization header',
  )
  t.equal(
    h.meta.received.filter((r) => r.raw.includes('your file') || r.raw.includes('your_file')).length,
    0,
    'nothing was sent to WhatsApp',
  )
})

t.test('a failed download names its status, never what the server answered', async (t) => {
  const h = await startHarness()
  t.teardown(() => h.close())
  const url = `${h.genesys.apiUrl}/api/v2/downloads/${randomUUID()}` // the fake answers 404 with a JSON message
  const body = h.genesys.buildOutbound({
    integrationId: h.tenant.genesys.integrationId,
    conversationId: randomUUID(),
    toId: customer,
    attachment: { url, mime: 'application/pdf', mediaType: 'File', filename: 'gone.pdf' },
  })
  t.equal((await h.postGenesys(body)).status, 200)
  const id = (body as { id: string }).id
  const receipt = await h.genesys.waitFor((r) => r.kind === 'receipt' && (r.body as { id: string }).id === id, 30_000)
  t.match(receipt.body, { status: 'Failed', reasons: [{ code: 'GeneralError' }] })
  const message = (receipt.body as { reasons: { message: string }[] }).reasons[0]?.message ?? ''
  t.equal(message, 'attachment download failed: HTTP 404')
  t.notMatch(message, /requested resource/, 'the 404 body stays out of the receipt')
})
