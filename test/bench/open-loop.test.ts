import { createServer as createHttpServer, type RequestListener, type Server, type ServerResponse } from 'node:http'
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net'
import t from 'tap'
import { driveOpenLoop, type Arrival } from '../../bench/open-loop.js'

type Listening = { url: string; close: () => Promise<void> }

async function httpServer(handler: RequestListener): Promise<Listening> {
  const s: Server = createHttpServer(handler)
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))
  const port = (s.address() as { port: number }).port
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => {
      s.closeAllConnections()
      return new Promise((resolve) => s.close(() => resolve()))
    },
  }
}

/** A raw TCP server: what it does with each connection is up to the test. */
async function tcpServer(onSocket: (s: Socket) => void): Promise<Listening> {
  const sockets = new Set<Socket>()
  const s: NetServer = createNetServer((sock) => {
    sockets.add(sock)
    sock.on('close', () => sockets.delete(sock))
    sock.on('error', () => undefined)
    onSocket(sock)
  })
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))
  const port = (s.address() as { port: number }).port
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => {
      for (const sock of sockets) sock.destroy()
      return new Promise((resolve) => s.close(() => resolve()))
    },
  }
}

function recorder() {
  const done: { status: number | undefined; latencyMs: number }[] = []
  const arrival = (body = '{}'): Arrival => ({
    body,
    headers: { 'content-type': 'application/json' },
    done: (status, latencyMs) => done.push({ status, latencyMs }),
  })
  return { done, arrival }
}

/** The bridge answers with a Content-Length, which the bench's client requires. */
const ok = (res: ServerResponse): void => {
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': '2' }).end('{}')
}

/** 50 req/s for 0.2 s over 4 connections: for servers that answer badly or not at all. */
async function quietLoad(server: Listening, timeoutMs: number) {
  const r = recorder()
  const out = await driveOpenLoop({
    url: server.url,
    path: '/',
    rate: 50,
    seconds: 0.2,
    connections: 4,
    timeoutMs,
    next: () => r.arrival(),
  })
  return { r, out }
}

const answerAfter =
  (ms: number): RequestListener =>
  (req, res) => {
    req.resume()
    req.on('end', () => setTimeout(() => ok(res), ms))
  }

t.test('every arrival is sent once with its body and answered; latency runs from the scheduled arrival', async (t) => {
  const bodies: string[] = []
  const server = await httpServer((req, res) => {
    let body = ''
    req.on('data', (c: Buffer) => (body += c.toString()))
    req.on('end', () => {
      bodies.push(body)
      setTimeout(() => ok(res), 30)
    })
  })
  t.teardown(server.close)
  const r = recorder()
  let n = 0
  const out = await driveOpenLoop({
    url: server.url,
    path: '/webhook/genesys',
    rate: 100,
    seconds: 0.5,
    connections: 64,
    next: () => r.arrival(JSON.stringify({ n: ++n })),
  })
  t.ok(out.scheduled > 0, 'arrivals were scheduled')
  t.equal(out.skipped, 0)
  t.equal(out.errors + out.timeouts, 0)
  t.equal(r.done.length, out.scheduled, 'each arrival answered once')
  t.ok(
    r.done.every((d) => d.status === 200),
    'status 200 reported',
  )
  t.same(
    bodies.map((b) => (JSON.parse(b) as { n: number }).n).sort((a, b) => a - b),
    Array.from({ length: n }, (_, i) => i + 1),
    'every body reached the server, whole, once',
  )
  t.ok(
    r.done.every((d) => d.latencyMs >= 30),
    'no latency below the server’s 30 ms',
  )
})

t.test('a server slower than the offered rate is charged for the queue (no coordinated omission)', async (t) => {
  const server = await httpServer(answerAfter(40))
  t.teardown(server.close)
  const r = recorder()
  // One connection at 40 ms a request takes 25/s; 100/s are offered, so arrivals queue in the client.
  const out = await driveOpenLoop({
    url: server.url,
    path: '/',
    rate: 100,
    seconds: 0.6,
    connections: 1,
    next: () => r.arrival(),
  })
  t.equal(r.done.length, out.scheduled)
  t.ok(
    r.done.every((d) => d.status === 200),
    'all answered',
  )
  const worst = Math.max(...r.done.map((d) => d.latencyMs))
  t.ok(worst > 200, `the last arrivals waited behind the queue (worst ${Math.round(worst)} ms)`)
})

t.test('an arrival with no free conversation is skipped and counted, not sent', async (t) => {
  let requests = 0
  const server = await httpServer((req, res) => {
    requests++
    req.resume()
    req.on('end', () => ok(res))
  })
  t.teardown(server.close)
  const r = recorder()
  let k = 0
  const out = await driveOpenLoop({
    url: server.url,
    path: '/',
    rate: 200,
    seconds: 0.3,
    connections: 8,
    next: () => (k++ % 2 === 0 ? r.arrival() : undefined),
  })
  t.ok(out.skipped > 0)
  t.equal(out.skipped + r.done.length, out.scheduled)
  t.equal(requests, r.done.length, 'skipped arrivals never reached the server')
})

t.test('an answer without Content-Length is an error, not a hang', async (t) => {
  const server = await tcpServer((sock) =>
    sock.once('data', () => sock.write('HTTP/1.1 200 OK\r\nconnection: keep-alive\r\n\r\n')),
  )
  t.teardown(server.close)
  const { r, out } = await quietLoad(server, 5_000)
  t.ok(out.errors > 0)
  t.equal(out.errors + out.timeouts, out.scheduled, 'every request ended, none answered')
  t.ok(
    r.done.every((d) => d.status === undefined),
    'no status reported for a refused answer',
  )
})

t.test('no answer within the timeout is counted as a timeout and the run ends', async (t) => {
  const server = await tcpServer(() => undefined)
  t.teardown(server.close)
  const { r, out } = await quietLoad(server, 150)
  t.ok(out.timeouts > 0)
  t.equal(out.timeouts + out.errors, out.scheduled)
  t.equal(r.done.length, out.scheduled, 'each arrival reported once')
})
