import { createServer, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import { genesysTenantLookup } from '../src/app/ingest-routes.js'
import { openResources } from '../src/app/resources.js'
import { loadConfig } from '../src/config/config.js'
import { genesysSignatureHeader, handleGenesysWebhook } from '../src/ingest/genesys-webhook.js'
import type { IncomingRequest } from '../src/ingest/http-server.js'
import { createLogger } from '../src/log.js'
import { createMetrics } from '../src/metrics.js'

/**
 * BENCH ONLY. The same Genesys ingest (parse, tenant lookup, signature check, produce with
 * acks=all, 200 after the ack) behind node:http instead of uWebSockets.js, to show what the HTTP
 * layer costs. Configured from the environment like the bridge; prints {"port":…} once listening.
 */

const config = loadConfig(process.env)
const log = createLogger(config.logLevel)
const r = await openResources(config, log, createMetrics())
const topic = config.kafka.topics.genesysOutbound

const deps = {
  log,
  findByIntegrationId: genesysTenantLookup(r),
  produce: (key: string, value: Parameters<typeof r.codec.encode>[1]) =>
    r.producer.send({ topic, key, value: r.codec.encode(topic, value) }),
}

const readBody = (req: IncomingMessage): Promise<Buffer> =>
  new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => resolve(Buffer.concat(chunks)))
    req.on('error', reject)
  })

const server = createServer({ keepAlive: true }, (req, res) => {
  const receivedAtMs = performance.timeOrigin + performance.now()
  const url = new URL(req.url ?? '/', 'http://x')
  if (req.method !== 'POST' || url.pathname !== '/webhook/genesys') {
    res.writeHead(404).end()
    return
  }
  const headers: Record<string, string> = {}
  for (const h of [genesysSignatureHeader, 'content-type']) {
    const v = req.headers[h]
    if (typeof v === 'string') headers[h] = v
  }
  readBody(req)
    .then((body) => {
      const incoming: IncomingRequest = {
        method: 'POST',
        path: url.pathname,
        query: url.searchParams,
        headers,
        body,
        receivedAtMs,
      }
      return handleGenesysWebhook(incoming, deps)
    })
    .then((reply) => {
      res.writeHead(reply.status, { 'content-type': reply.contentType ?? 'text/plain' }).end(reply.body)
    })
    .catch((err: unknown) => {
      res.writeHead(500).end(String(err))
    })
})
server.maxRequestsPerSocket = 0
await new Promise<void>((resolve) => server.listen(config.http.port, '127.0.0.1', resolve))
process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port, pid: process.pid })}\n`)

const stop = (): void => {
  server.close()
  server.closeAllConnections()
  void r.close().then(() => process.exit(0))
}
process.once('SIGINT', stop)
process.once('SIGTERM', stop)
