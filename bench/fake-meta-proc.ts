import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { parseArgs } from 'node:util'
import { createFakeMeta } from '../src/fakes/fake-meta.js'

/**
 * BENCH ONLY. The fake Meta as its own process, plus a records port the bench drains:
 *   GET /__drain → {"items":[[seq, arrivedAtMs, status, text], ...]} and forgets what it returned,
 * so a long run keeps memory flat. Prints one JSON line with both URLs once listening.
 *   node dist/bench/fake-meta-proc.js --latency 150,600 --number <id>:<token>:<appSecret>
 */

const { values } = parseArgs({
  options: {
    latency: { type: 'string', default: '150,600' },
    number: { type: 'string', multiple: true },
    port: { type: 'string', default: '0' },
  },
  strict: true,
})

const [medianMs, p99Ms] = (values.latency ?? '150,600').split(',').map(Number)
if (medianMs === undefined || p99Ms === undefined || !(medianMs >= 0 && p99Ms >= medianMs)) {
  throw new Error(`--latency must be <medianMs>,<p99Ms>, got ${values.latency}`)
}

const meta = await createFakeMeta({
  port: Number(values.port),
  latency: medianMs === 0 && p99Ms === 0 ? 0 : { medianMs, p99Ms },
  fetchLinks: false,
  maxRecorded: 2_000_000,
})
for (const n of values.number ?? []) {
  const [phoneNumberId, accessToken, appSecret] = n.split(':')
  if (!phoneNumberId || !accessToken || !appSecret) throw new Error(`--number expects id:token:secret, got ${n}`)
  meta.addNumber({ phoneNumberId, accessToken, appSecret })
}

const textOf = (body: unknown): string => {
  if (typeof body !== 'object' || body === null) return ''
  const text = (body as { text?: unknown }).text
  if (typeof text !== 'object' || text === null) return ''
  const b = (text as { body?: unknown }).body
  return typeof b === 'string' ? b : ''
}

const records = createServer((req, res) => {
  if (req.url?.startsWith('/__drain') !== true) {
    res.writeHead(404).end()
    return
  }
  const list = meta.received
  // The fake records a send when it answers it (after its latency), so a conversation's sends are
  // in order here because the bridge waits for one answer before the next send of that conversation.
  const taken = list.splice(0, list.length)
  const items = taken.map((r) => [r.seq, Math.round(r.arrivedAt * 10) / 10, r.status, textOf(r.body)])
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ items }))
})
await new Promise<void>((resolve) => records.listen(0, '127.0.0.1', resolve))
const recordsUrl = `http://127.0.0.1:${(records.address() as AddressInfo).port}`
process.stdout.write(`${JSON.stringify({ fakes: 'listening', metaUrl: meta.url, recordsUrl, pid: process.pid })}\n`)

const stop = (): void => {
  records.close()
  void meta.close().then(() => process.exit(0))
}
process.once('SIGINT', stop)
process.once('SIGTERM', stop)
