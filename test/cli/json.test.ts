import t from 'tap'
import { collector } from '../../src/cli/io.js'
import { runCli } from '../../src/cli/run.js'
import { createTestDb } from '../helpers/db.js'
import { testEnv } from '../helpers/stack.js'
import { tenantSpec } from '../helpers/tenants.js'
import { writeFile, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** With --json, stdout is exactly one JSON document a script can parse; nothing else is on it. */
t.test('commands that change things print one JSON summary with --json', async (t) => {
  const db = await createTestDb({ migrate: false })
  t.teardown(() => db.drop())
  const dir = await mkdtemp(join(tmpdir(), 'gwb-json-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const env = testEnv({ DATABASE_URL: db.url })
  const run = async (...argv: string[]): Promise<unknown> => {
    const out = collector()
    const err = collector()
    const code = await runCli(argv, env, out, err)
    t.equal(code, 0, `${argv.join(' ')}: ${err.text()}`)
    return JSON.parse(out.text()) as unknown
  }
  const migrated = (await run('migrate', '--json')) as { applied: string[]; schemaVersion: number }
  t.ok(migrated.applied.length > 0 && migrated.schemaVersion > 0, 'migrate')
  const spec = tenantSpec()
  const file = join(dir, 'tenant.json')
  await writeFile(file, JSON.stringify(spec))
  t.same(await run('tenants', 'add', '--file', file, '--json'), {
    action: 'added',
    id: spec.id,
    name: spec.name,
    status: 'active',
  })
  t.same(await run('tenants', 'disable', spec.id, '--json'), { id: spec.id, status: 'inactive' })
  const rotated = await run('tenants', 'rotate', spec.id, '--whatsapp-app-secret', 'a-new-app-secret-0001', '--json')
  // The replaced app secret still verifies until the end of its overlap (24 h by default).
  t.match(rotated, { id: spec.id, rotated: ['whatsapp.appSecret'], overlaps: { 'whatsapp.appSecret': /^\d{4}-/ } })
  t.notMatch(JSON.stringify(rotated), 'a-new-app-secret', 'no secret in the summary')
})
