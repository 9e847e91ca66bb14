import { randomBytes } from 'node:crypto'
import t from 'tap'
import type { TenantSpec } from '../../../src/processors/tenant-spec.js'
import { decryptJson, encryptJson, maskSecret, parseCredentialsKey } from '../../../src/sinks/db/crypto.js'
import {
  findByIntegrationId,
  findByPhoneNumberId,
  getCredentials,
  getTenant,
  listTenants,
  requireActive,
  rotateCredentials,
  setTenantStatus,
  upsertTenant,
} from '../../../src/sinks/db/tenants.js'
import { createTestDb } from '../../helpers/db.js'

const key = randomBytes(32)
const spec: TenantSpec = {
  id: 'acme',
  name: 'Acme',
  status: 'active',
  genesys: {
    integrationId: 'acme-integration',
    region: 'mypurecloud.ie',
    clientId: 'acme-client-id',
    clientSecret: 'acme-CLIENT-SECRET-plaintext',
    webhookSecret: 'acme-WEBHOOK-SECRET-plaintext',
  },
  whatsapp: {
    phoneNumberId: '100000000000042',
    businessAccountId: '200000000000042',
    accessToken: 'acme-ACCESS-TOKEN-plaintext',
    appSecret: 'acme-APP-SECRET-plaintext',
    verifyToken: 'acme-VERIFY-plaintext',
  },
}

t.test('parseCredentialsKey wants exactly 32 bytes of base64', async (t) => {
  t.equal(parseCredentialsKey(key.toString('base64')).length, 32)
  t.throws(() => parseCredentialsKey(undefined), { code: 'GWB_CONFIG', message: /not set/ })
  t.throws(() => parseCredentialsKey(randomBytes(16).toString('base64')), { message: /exactly 32 bytes, got 16/ })
  t.throws(() => parseCredentialsKey('not base64!!'), { message: /not valid base64/ })
})

t.test('maskSecret never shows the whole secret', async (t) => {
  t.equal(maskSecret('abcdefghijklmnopyz'), 'ab…yz')
  t.equal(maskSecret('short'), '****')
})

t.test('a blob is bound to its tenant and type', async (t) => {
  const blob = encryptJson(key, 'a:whatsapp', { x: 1 })
  t.same(decryptJson(key, 'a:whatsapp', blob), { x: 1 })
  t.throws(() => decryptJson(key, 'b:whatsapp', blob), { code: 'GWB_CONFIG' })
})

t.test('tenant repository against Postgres', async (t) => {
  const db = await createTestDb()
  t.teardown(db.drop)
  const { sql } = db

  const created = await upsertTenant(sql, key, spec)
  t.equal(created.genesysIntegrationId, 'acme-integration')
  t.equal(created.whatsappPhoneNumberId, '100000000000042')
  t.equal((await getTenant(sql, 'acme'))?.name, 'Acme')
  t.equal((await findByIntegrationId(sql, 'acme-integration'))?.id, 'acme')
  t.equal((await findByPhoneNumberId(sql, '100000000000042'))?.id, 'acme')
  t.equal(await findByIntegrationId(sql, 'nope'), undefined)
  t.same(
    (await listTenants(sql)).map((x) => x.id),
    ['acme'],
  )

  t.test('stored ciphertext holds no plaintext secret', async (t) => {
    const rows = await sql<{ ciphertext: Buffer; key_id: string }[]>`select ciphertext, key_id from tenant_credentials`
    t.equal(rows.length, 2)
    for (const r of rows) {
      const asText = r.ciphertext.toString('latin1')
      for (const s of [...Object.values(spec.genesys), ...Object.values(spec.whatsapp)]) {
        if (s.includes('plaintext')) t.notOk(asText.includes(s), `no ${maskSecret(s)} in ciphertext`)
      }
      t.notOk(asText.includes('plaintext'))
    }
  })

  t.test('credentials decrypt with the right key only', async (t) => {
    const wa = await getCredentials(sql, key, 'acme', 'whatsapp')
    t.same(wa, spec.whatsapp)
    const g = await getCredentials(sql, key, 'acme', 'genesys')
    t.equal(g?.webhookSecret, spec.genesys.webhookSecret)
    t.equal(g?.integrationId, 'acme-integration')
    await t.rejects(getCredentials(sql, randomBytes(32), 'acme', 'whatsapp'), {
      code: 'GWB_CONFIG',
      message: /cannot decrypt credentials for acme:whatsapp: CREDENTIALS_KEY is not the key/,
    })
    t.equal(await getCredentials(sql, key, 'ghost', 'whatsapp'), undefined)
  })

  t.test('a credential row copied to another type does not decrypt', async (t) => {
    await upsertTenant(sql, key, {
      ...spec,
      id: 'other',
      genesys: { ...spec.genesys, integrationId: 'other-int' },
      whatsapp: { ...spec.whatsapp, phoneNumberId: '100000000000043' },
    })
    await sql`update tenant_credentials set ciphertext = (select ciphertext from tenant_credentials
      where tenant_id = 'acme' and type = 'whatsapp') where tenant_id = 'other' and type = 'whatsapp'`
    await t.rejects(getCredentials(sql, key, 'other', 'whatsapp'), { code: 'GWB_CONFIG' })
  })

  t.test('rotation merges secrets and follows the lookup id', async (t) => {
    const next = await rotateCredentials(sql, key, 'acme', 'whatsapp', {
      accessToken: 'new-token-value',
      phoneNumberId: '100000000000099',
    })
    t.equal(next.accessToken, 'new-token-value')
    t.equal(next.appSecret, spec.whatsapp.appSecret)
    t.same(await getCredentials(sql, key, 'acme', 'whatsapp'), next)
    t.equal((await findByPhoneNumberId(sql, '100000000000099'))?.id, 'acme')
    await t.rejects(rotateCredentials(sql, key, 'ghost', 'genesys', { clientSecret: 'x' }), {
      code: 'GWB_TENANT_UNKNOWN',
    })
  })

  t.test('status changes and requireActive', async (t) => {
    const off = await setTenantStatus(sql, 'acme', 'inactive')
    t.equal(off.status, 'inactive')
    t.throws(() => requireActive(off, 'integration acme-integration'), { code: 'GWB_TENANT_INACTIVE' })
    t.throws(() => requireActive(undefined, 'integration x'), { code: 'GWB_TENANT_UNKNOWN' })
    await t.rejects(setTenantStatus(sql, 'ghost', 'active'), { code: 'GWB_TENANT_UNKNOWN' })
    t.equal(requireActive(await setTenantStatus(sql, 'acme', 'active'), 'x').id, 'acme')
  })
})
