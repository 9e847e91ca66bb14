import t from 'tap'
import { collector } from '../../src/cli/io.js'
import { runCli } from '../../src/cli/run.js'
import { createTestDb } from '../helpers/db.js'
import { guardedRegistry, isWrite } from '../helpers/registry-proxy.js'
import { testEnv } from '../helpers/stack.js'

/**
 * Least privilege for the operator CLI: only `gwb setup` registers schemas. Every other Kafka
 * command works with read-only registry credentials (the registry refuses its writes here) once
 * setup has run, and before that it names setup instead of registering anything itself.
 */
t.test('CLI commands other than setup need only read rights on the schema registry', async (t) => {
  const db = await createTestDb({ migrate: false })
  t.teardown(() => db.drop())
  const env = testEnv({ DATABASE_URL: db.url })
  const registry = new URL(env['SCHEMA_REGISTRY_URL'] ?? 'http://127.0.0.1:8081/apis/ccompat/v7')
  const proxy = await guardedRegistry(registry.origin, undefined, { readOnly: true })
  t.teardown(() => proxy.close())
  const readOnly = { ...env, SCHEMA_REGISTRY_URL: `${proxy.url.replace(/\/$/, '')}${registry.pathname}` }
  const run = async (e: Record<string, string>, ...argv: string[]) => {
    const out = collector()
    const err = collector()
    const code = await runCli(argv, e, out, err)
    return { code, out: out.text(), err: err.text() }
  }
  const list = ['dead-letters', 'list', '--topic', 'genesys-outbound', '--json']

  const before = await run(readOnly, ...list)
  t.not(before.code, 0, 'refused before setup')
  t.match(before.err, /gwb setup/, 'naming the command that registers the schemas')

  const setup = await run(env, 'setup', '--json')
  t.equal(setup.code, 0, setup.err)

  const after = await run(readOnly, ...list)
  t.equal(after.code, 0, `dead-letters list with read-only registry rights: ${after.err}`)
  t.ok(proxy.seen.length > 0, 'the command went through the read-only registry')
  t.same(
    proxy.seen.filter((r) => isWrite(r.method, r.path)),
    [],
    'no write was attempted',
  )
})
