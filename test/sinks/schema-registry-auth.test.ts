import t from 'tap'
import type { RegistryAuth } from '../../src/config/service-auth.js'
import type { AvroType } from '../../src/schemas/generate-types.js'
import { topicCatalog, type RecordName } from '../../src/schemas/catalog.js'
import { loadSchemas } from '../../src/schemas/load-schemas.js'
import { registerSchemas } from '../../src/sinks/schema-registry.js'
import { guardedRegistry } from '../helpers/registry-proxy.js'
import { testConfig } from '../helpers/stack.js'

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
