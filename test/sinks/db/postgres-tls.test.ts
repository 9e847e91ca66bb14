import t from 'tap'
import { loadConfig } from '../../../src/config/config.js'
import { closeDb, createDb } from '../../../src/sinks/db/client.js'
import { privatePostgres } from '../../helpers/private-servers.js'

/** A private PostgreSQL with TLS on, its certificate (for 127.0.0.1) from a throwaway CA. */
t.test('DATABASE_SSLMODE: verify-full with the CA connects over TLS; verify-full without it is refused', async (t) => {
  const pg = await privatePostgres({ tls: true })
  t.teardown(() => pg.close())
  await pg.start()
  const key = Buffer.alloc(32, 1).toString('base64')
  const load = (env: Record<string, string>) => loadConfig({ CREDENTIALS_KEY: key, DATABASE_URL: pg.endpoint, ...env })

  const full = load({ DATABASE_SSLMODE: 'verify-full', DATABASE_SSL_CA_FILE: pg.caFile ?? '' })
  const sql = createDb(full.databaseUrl, { max: 1, tls: full.databaseTls })
  t.teardown(() => closeDb(sql))
  const [row] = await sql<{ ssl: boolean }[]>`select ssl from pg_stat_ssl where pid = pg_backend_pid()`
  t.equal(row?.ssl, true, 'the session is encrypted')

  const noCa = load({ DATABASE_SSLMODE: 'verify-full' })
  const refused = createDb(noCa.databaseUrl, { max: 1, tls: noCa.databaseTls })
  t.teardown(() => closeDb(refused))
  await t.rejects(refused`select 1`, { message: /certificate/ }, 'a certificate from an unknown CA is refused')

  const plain = load({})
  const off = createDb(plain.databaseUrl, { max: 1, tls: plain.databaseTls })
  t.teardown(() => closeDb(off))
  const [r2] = await off<{ ssl: boolean }[]>`select ssl from pg_stat_ssl where pid = pg_backend_pid()`
  t.equal(r2?.ssl, false, 'the default stays unencrypted (a server on this machine)')
})
