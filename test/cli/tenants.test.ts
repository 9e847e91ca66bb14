import t from 'tap'
import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { tenants } from '../../src/cli/commands/tenants.js'
import { CliFailure, UsageError } from '../../src/cli/errors.js'
import { collector } from '../../src/cli/io.js'
import { maskSecret } from '../../src/sinks/db/crypto.js'
import { createTenantDirectory } from '../../src/sinks/cache/directory.js'
import { createCache, createRedis } from '../../src/sinks/cache/redis.js'
import { createTestDb } from '../helpers/db.js'
import { tenantSpec } from '../helpers/tenants.js'
import { testConfig } from '../helpers/stack.js'

const secretsOf = (s: ReturnType<typeof tenantSpec>): string[] => [
  s.whatsapp.accessToken,
  s.whatsapp.appSecret,
  s.whatsapp.verifyToken,
  s.genesys.clientSecret,
  s.genesys.webhookSecret,
]

t.test('tenants add/list/show/disable/enable/rotate never print a secret; rotate invalidates caches', async (t) => {
  const db = await createTestDb()
  t.teardown(() => db.drop())
  const config = testConfig({ DATABASE_URL: db.url })
  const dir = await mkdtemp(join(tmpdir(), 'gwb-cli-'))
  const spec = tenantSpec()
  const file = join(dir, 'tenant.json')
  await writeFile(file, JSON.stringify(spec))
  const secrets = secretsOf(spec)
  const out = collector()
  const noSecrets = (what: string, extra: string[] = []) => {
    for (const s of [...secrets, ...extra]) t.notOk(out.text().includes(s), `${what}: no secret in the output`)
  }

  await tenants(config, ['add', '--file', file], out)
  t.match(out.text(), `added tenant ${spec.id}`)
  await tenants(config, ['list'], out)
  await tenants(config, ['list', '--json'], out)
  await tenants(config, ['show', spec.id], out)
  const shown = collector()
  await tenants(config, ['show', spec.id, '--json'], shown)
  const view = JSON.parse(shown.text()) as { credentials: Record<string, Record<string, string>> }
  // Each secret is the same six dots and a fingerprint: not one character of it.
  t.same(
    [
      view.credentials['whatsapp']?.['accessToken'],
      view.credentials['whatsapp']?.['appSecret'],
      view.credentials['whatsapp']?.['verifyToken'],
      view.credentials['genesys']?.['clientSecret'],
      view.credentials['genesys']?.['webhookSecret'],
    ],
    secrets.map(maskSecret),
  )
  t.equal(view.credentials['whatsapp']?.['phoneNumberId'], spec.whatsapp.phoneNumberId, 'ids are not secrets')
  noSecrets('add, list, show')

  // Another process's directory, with a long local TTL: only an invalidation can refresh it.
  const redis = createRedis(config.redisUrl)
  const cache = createCache(redis, { prefix: '' })
  t.teardown(async () => {
    await cache.close()
    redis.disconnect()
  })
  const directory = createTenantDirectory({ sql: db.sql, cache, key: config.credentialsKey, localTtlMs: 600_000 })
  t.equal((await directory.whatsappCredentials(spec.id))?.accessToken, spec.whatsapp.accessToken)
  t.equal((await directory.genesysCredentials(spec.id))?.clientSecret, spec.genesys.clientSecret)
  await new Promise((r) => setTimeout(r, 200)) // the subscription is connected

  const newToken = `EAAG-rotated-${Date.now()}-token`
  const newClientSecret = `rotated-client-secret-${Date.now()}`
  const partial = join(dir, 'partial.json')
  await writeFile(partial, JSON.stringify({ genesys: { clientSecret: newClientSecret } }))
  await tenants(config, ['rotate', spec.id, '--whatsapp-access-token', newToken, '--file', partial], out)
  t.match(out.text(), /rotated 2 credential\(s\)/)
  noSecrets('rotate', [newToken, newClientSecret])

  const deadline = Date.now() + 5000
  let creds = await directory.whatsappCredentials(spec.id)
  while (creds?.accessToken !== newToken && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50))
    creds = await directory.whatsappCredentials(spec.id)
  }
  t.equal(creds?.accessToken, newToken, 'the next lookup returns the new token')
  t.equal((await directory.genesysCredentials(spec.id))?.clientSecret, newClientSecret)
  t.equal(creds?.appSecret, spec.whatsapp.appSecret, 'other secrets kept')

  await tenants(config, ['disable', spec.id], out)
  t.equal((await directory.byIntegrationId(spec.genesys.integrationId))?.status, 'inactive')
  await tenants(config, ['enable', spec.id], out)
  t.match(out.text(), `tenant ${spec.id} is now active`)
  await tenants(config, ['show', spec.id], out)
  noSecrets('everything', [newToken, newClientSecret])
  // Every line that shows a secret field, in every output above, shows only a mask.
  const secretLines = [
    ...(out.text() + shown.text()).matchAll(
      /(accessToken|appSecret|verifyToken|clientSecret|webhookSecret)"?: "?(.*?)"?,?$/gm,
    ),
  ]
  t.ok(secretLines.length >= 17, 'secret fields were printed')
  for (const m of secretLines) t.match(m[2], /^•••••• fp:[0-9a-f]{8}$/, `${m[1]} masked`)

  // Usage errors and failures.
  await t.rejects(tenants(config, ['add'], out), { constructor: UsageError, message: /--file is required/ })
  await t.rejects(tenants(config, ['add', '--file', join(dir, 'missing.json')], out), {
    message: /cannot read --file .*ENOENT/,
  })
  await writeFile(join(dir, 'bad.json'), '{"id": "x"')
  await t.rejects(tenants(config, ['add', '--file', join(dir, 'bad.json')], out), { message: /not valid JSON/ })
  await writeFile(join(dir, 'invalid.json'), JSON.stringify({ ...spec, whatsapp: { phoneNumberId: 'abc' } }))
  await t.rejects(tenants(config, ['add', '--file', join(dir, 'invalid.json')], out), {
    constructor: UsageError,
    message: /whatsapp.phoneNumberId: must be the numeric phone number id/,
  })
  await t.rejects(tenants(config, ['rotate', spec.id], out), { message: /nothing to rotate/ })
  await t.rejects(tenants(config, ['rotate', spec.id, '--genesys-webhook-secret', 'short'], out), {
    message: /longer than 15/,
  })
  await t.rejects(tenants(config, ['show'], out), { message: /missing <tenant id>/ })
  await t.rejects(tenants(config, ['show', 'nobody'], out), CliFailure)
  await t.rejects(tenants(config, ['rotate', 'nobody', '--whatsapp-access-token', 'x'], out), CliFailure)
  await t.rejects(tenants(config, ['remove', spec.id], out), { message: /unknown subcommand "remove"/ })
  noSecrets('errors', [newToken, newClientSecret])
})
