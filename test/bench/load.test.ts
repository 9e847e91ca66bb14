import { createServer, type Server } from 'node:http'
import t from 'tap'
import { driveLoad, type Conv } from '../../bench/load.js'

t.test('open load: one message in flight per conversation; a conversation without a 200 is retired', async (t) => {
  const seen: { conv: string; seq: number }[] = []
  let inFlight = new Map<string, number>()
  let overlapped = 0
  const server: Server = createServer((req, res) => {
    let body = ''
    req.on('data', (c: Buffer) => (body += c.toString()))
    req.on('end', () => {
      const m = JSON.parse(body) as { conv: string; seq: number }
      seen.push(m)
      if ((inFlight.get(m.conv) ?? 0) > 0) overlapped++
      inFlight.set(m.conv, (inFlight.get(m.conv) ?? 0) + 1)
      // The first message of conversation "a" is refused; every other one is taken after 5 ms.
      const status = m.conv === 'a' && m.seq === 1 ? 503 : 200
      setTimeout(() => {
        inFlight.set(m.conv, (inFlight.get(m.conv) ?? 1) - 1)
        res.writeHead(status, { 'content-length': '2' }).end('{}')
      }, 5)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    server.closeAllConnections()
    return new Promise<void>((resolve) => server.close(() => resolve()))
  })
  const port = (server.address() as { port: number }).port
  const convs: Conv[] = ['a', 'b', 'c'].map((id) => ({ id, waId: '1', seq: 0 }))
  const build = (conv: Conv, seq: number) => ({
    body: JSON.stringify({ conv: conv.id, seq }),
    headers: { 'content-type': 'application/json' },
  })
  const load = {
    rate: 100,
    seconds: 0.5,
    connections: 8,
    url: `http://127.0.0.1:${port}`,
    kind: 'open',
    waves: 1,
  } as const
  const out = await driveLoad(load, convs, build)

  t.equal(overlapped, 0, 'never two messages of one conversation in flight')
  t.same(
    seen.filter((m) => m.conv === 'a').map((m) => m.seq),
    [1],
    'the refused conversation got nothing after its refused message',
  )
  t.equal(convs[0]?.retired, true)
  t.ok(seen.filter((m) => m.conv === 'b').length > 1, 'the others went on')
  t.same(
    out.sent.filter((s) => s.conversation === 'a'),
    [],
    'the refused message is not counted as sent',
  )
  t.equal(out.errors, 1, 'the refusal is counted')
  // Later runs (the next step) do not use it either.
  seen.length = 0
  inFlight = new Map()
  await driveLoad({ ...load, seconds: 0.2 }, convs, build)
  t.notOk(
    seen.some((m) => m.conv === 'a'),
    'still retired in the next step',
  )
})
