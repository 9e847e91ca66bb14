import t from 'tap'
import { randomBytes } from 'node:crypto'
import { credentials } from '../../src/cli/commands/credentials.js'
import { tenants } from '../../src/cli/commands/tenants.js'
import { CliFailure, UsageError } from '../../src/cli/errors.js'
import { collector } from '../../src/cli/io.js'
import { keyId } from '../../src/sinks/db/crypto.js'
import { credentialAad, getCredentials, upsertTenant } from '../../src/sinks/db/tenants.js'
import { createTestDb } from '../helpers/db.js'
import { tenantSpec } from '../helpers/tenants.js'
import { testConfig } from '../helpers/stack.js'
import { v1Blob } from '../helpers/v1-blob.js'

t.test(
  'CREDENTIALS_KEY rotation: old rows read with the key listed as previous, re-encrypted, then the old key dropped',
  async (t) => {
    const db = await createTestDb()
    t.teardown(() => db.drop())
    const oldKey = randomBytes(32)
    const newKey = randomBytes(32)
    const b64 = (k: Buffer) => k.toString('base64')
    const specs = [tenantSpec(), tenantSpec()]
    for (const s of specs) await upsertTenant(db.sql, oldKey, s)
    const stored = async (key: Buffer) =>
      Promise.all(
        specs.flatMap((s) => [
          getCredentials(db.sql, key, s.id, 'genesys'),
          getCredentials(db.sql, key, s.id, 'whatsapp'),
        ]),
      )
    const original = await stored(oldKey)
    // One row as the first release wrote it (v1 blob, no key id in it).
    const first = specs[0]!
    await db.sql`update tenant_credentials set ciphertext = ${v1Blob(oldKey, credentialAad(first.id, 'genesys'), original[0])}
    where tenant_id = ${first.id} and type = 'genesys'`

    const oldOnly = testConfig({ DATABASE_URL: db.url, CREDENTIALS_KEY: b64(oldKey) })
    const rotating = testConfig({
      DATABASE_URL: db.url,
      CREDENTIALS_KEY: b64(newKey),
      CREDENTIALS_KEY_PREVIOUS: `${b64(randomBytes(32))}, ${b64(oldKey)}`,
    })
    const newOnly = testConfig({ DATABASE_URL: db.url, CREDENTIALS_KEY: b64(newKey) })
    const out = collector()
    const keyIds = async () =>
      (await db.sql<{ key_id: string }[]>`select key_id from tenant_credentials order by tenant_id, type`).map(
        (r) => r.key_id,
      )

    await t.rejects(tenants(newOnly, ['show', first.id], out), {
      code: 'GWB_CONFIG',
      message: /neither CREDENTIALS_KEY nor any of CREDENTIALS_KEY_PREVIOUS|neither CREDENTIALS_KEY \(/,
    })
    await tenants(rotating, ['show', first.id], out)
    t.match(out.text(), /webhookSecret: •••••• fp:/, 'readable with the old key listed as previous')

    const dry = collector()
    await credentials(rotating, ['reencrypt', '--dry-run', '--json'], dry)
    t.match(JSON.parse(dry.text()), { rows: 4, reencrypted: 4, alreadyCurrent: 0, unreadable: [], dryRun: true })
    t.same(await keyIds(), Array(4).fill(keyId(oldKey)), 'a dry run changes nothing')

    const run = collector()
    await credentials(rotating, ['reencrypt', '--json'], run)
    t.same(JSON.parse(run.text()), {
      keyId: keyId(newKey),
      rows: 4,
      reencrypted: 4,
      alreadyCurrent: 0,
      unreadable: [],
      dryRun: false,
    })
    t.same(await keyIds(), Array(4).fill(keyId(newKey)))

    const again = collector()
    await credentials(rotating, ['reencrypt'], again)
    t.equal(
      again.text(),
      `4 credential row(s): 0 re-encrypted under key ${keyId(newKey)}, 4 already under it, 0 unreadable\n`,
    )

    // The old key is gone: everything still reads, and the old key alone reads nothing.
    t.same(await stored(newKey), original, 'every row reads under the new key alone, unchanged')
    await tenants(newOnly, ['show', first.id], out)
    await t.rejects(tenants(oldOnly, ['show', first.id], out), { code: 'GWB_CONFIG' })

    // A row under a key nobody lists: reported by tenant and key id, the rest done, exit 1.
    const stray = tenantSpec()
    const strayKey = randomBytes(32)
    await upsertTenant(db.sql, strayKey, stray)
    const partial = collector()
    await t.rejects(credentials(newOnly, ['reencrypt'], partial), {
      constructor: CliFailure,
      message: /2 row\(s\) could not be opened: list the key they were sealed with in CREDENTIALS_KEY_PREVIOUS/,
    })
    t.match(
      partial.text(),
      /^6 credential row\(s\): 0 re-encrypted under key [0-9a-f]{16}, 4 already under it, 2 unreadable/,
    )
    t.match(partial.text(), new RegExp(`unreadable: tenant ${stray.id} genesys \\(key ${keyId(strayKey)}\\)`))

    await t.rejects(credentials(newOnly, [], out), { constructor: UsageError, message: /missing subcommand/ })
    await t.rejects(credentials(newOnly, ['rotate'], out), { constructor: UsageError, message: /unknown subcommand/ })
    for (const text of [out.text(), dry.text(), run.text(), again.text(), partial.text()]) {
      for (const k of [oldKey, newKey, strayKey]) t.notOk(text.includes(b64(k)), 'no key printed')
      for (const s of [...specs, stray]) {
        for (const secret of [
          s.genesys.webhookSecret,
          s.genesys.clientSecret,
          s.whatsapp.appSecret,
          s.whatsapp.accessToken,
        ]) {
          t.notOk(text.includes(secret), 'no secret printed')
        }
      }
    }
  },
)
