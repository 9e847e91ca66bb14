import { createServer, type IncomingHttpHeaders } from 'node:http'
import t from 'tap'
import { request } from 'undici'
import type { RegistryAuth } from '../../src/config/service-auth.js'
import type { AvroType } from '../../src/schemas/generate-types.js'
import { topicCatalog, type RecordName } from '../../src/schemas/catalog.js'
import { loadSchemas } from '../../src/schemas/load-schemas.js'
import { registerSchemas } from '../../src/sinks/schema-registry.js'
import { testConfig } from '../helpers/stack.js'

/**
 * A registry that requires credentials: a proxy in front of the real one that answers 401 to a
 * request without the expected Authorization header, and records every request it saw.
 */
async function guardedRegistry(target: string, expected: string) {
  const seen: Array<{ method: string; path: string; authorization: string | undefined }> = []
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const path = req.url ?? '/'
      seen.push({ method: req.method ?? '', path, authorization: req.headers.authorization })
      if (req.headers.authorization !== expected) {
        res.writeHead(401, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ error_code: 40101, message: 'Unauthorized' }))
        return
      }
      const headers: IncomingHttpHeaders = { ...req.headers }
      delete headers.host
      delete headers.authorization
      delete headers.connection
      request(`${target}${path}`, {
        method: req.method as 'GET',
        headers: headers as Record<string, string>,
        body: chunks.length > 0 ? Buffer.concat(chunks) : undefined,
      })
        .then(async (up) => {
          const body = Buffer.from(await up.body.arrayBuffer())
          res.writeHead(up.statusCode, { 'content-type': String(up.headers['content-type'] ?? 'application/json') })
          res.end(body)
        })
        .catch((err: unknown) => {
          res.writeHead(502)
          res.end(String(err))
        })
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const addr = server.address()
  const port = typeof addr === 'object' && addr !== null ? addr.port : 0
  const base = new URL(target)
  return {
    url: `http://127.0.0.1:${port}${base.pathname}`,
    seen,
    close: () => new Promise<void>((r) => server.close(() => r())),
  }
}

const cfg = testConfig()
const origin = new URL(cfg.registryUrl).origin
const schemas = async () =>
  new Map((await loadSchemas()).map((s) => [s.name as RecordName, s.schema] as [RecordName, AvroType]))

const cases: Array<[string, RegistryAuth, string]> = [
  [
    'basic (Confluent Cloud API key)',
    { kind: 'basic', username: 'KEY', password: 'SECRET' },
    `Basic ${Buffer.from('KEY:SECRET').toString('base64')}`,
  ],
  ['bearer', { kind: 'bearer', token: 'tok-123' }, 'Bearer tok-123'],
]

for (const [name, auth, header] of cases) {
  t.test(`${name}: every registry call at start carries the configured credentials`, async (t) => {
    const proxy = await guardedRegistry(`${origin}`, header)
    t.teardown(() => proxy.close())
    const url = `${proxy.url.replace(/\/$/, '')}${new URL(cfg.registryUrl).pathname}`
    const specs = topicCatalog(testConfig().kafka.topics).slice(0, 2)
    const codec = await registerSchemas(url, specs, await schemas(), { auth })
    t.ok(codec.schemaId(specs[0]?.topic ?? '') > 0, 'registered through the guarded registry')
    t.ok(
      proxy.seen.some((r) => r.method === 'PUT' && r.path.includes('/config/')),
      "the project's own compatibility call",
    )
    t.ok(
      proxy.seen.some((r) => r.method === 'POST' && r.path.includes('/subjects/')),
      "the registry client's register call",
    )
    t.same(
      proxy.seen.filter((r) => r.authorization !== header),
      [],
      'no call without the credentials',
    )
  })
}

t.test('without credentials the guarded registry stops the start with its answer', async (t) => {
  const proxy = await guardedRegistry(origin, 'Bearer right')
  t.teardown(() => proxy.close())
  const url = `${proxy.url.replace(/\/$/, '')}${new URL(cfg.registryUrl).pathname}`
  const specs = topicCatalog(testConfig().kafka.topics).slice(0, 1)
  await t.rejects(registerSchemas(url, specs, await schemas()), { code: 'GWB_SCHEMA_INCOMPATIBLE', message: /401/ })
})
