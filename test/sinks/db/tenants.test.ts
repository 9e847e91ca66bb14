import { createHash, randomBytes } from 'node:crypto'
import t from 'tap'
import type { TenantSpec } from '../../../src/processors/tenant-spec.js'
import {
  blobKeyId,
  decryptJson,
  encryptJson,
  keyId,
  maskSecret,
  parseCredentialsKey,
  secretFingerprint,
} from '../../../src/sinks/db/crypto.js'
import {
  findByIntegrationId,
  findByPhoneNumberId,
  getCredentials,
  getTenant,
  listTenants,
  requireActive,
  rotateCredentials,
  setTenantStatus,
  signingSecretsOf,
  upsertTenant,
  type GenesysCredentials,
  type WhatsappCredentials,
} from '../../../src/sinks/db/tenants.js'
import { createTestDb } from '../../helpers/db.js'
import { v1Blob } from '../../helpers/v1-blob.js'

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

t.test('maskSecret shows none of the secret: the same dots for all, and a one-way fingerprint', async (t) => {
  const secret = 'abcdefghijklmnopyz'
  const fp = createHash('sha256').update(`gwb-secret-fingerprint:${secret}`).digest('hex').slice(0, 8)
  t.equal(secretFingerprint(secret), fp)
  t.equal(maskSecret(secret), `•••••• fp:${fp}`)
  // Same first and last characters, different middle: only the fingerprint differs.
  const twin = maskSecret('abXXXXXXXXXXXXXXyz')
  t.equal(twin.slice(0, 10), '•••••• fp:')
  t.not(twin, maskSecret(secret), 'two secrets are told apart')
  t.equal(maskSecret('short'), `•••••• fp:${secretFingerprint('short')}`, 'the length is not shown either')
  t.equal(maskSecret(''), '(empty)')
})

t.test('a blob is bound to its tenant and type', async (t) => {
  const blob = encryptJson(key, 'a:whatsapp', { x: 1 })
  t.same(decryptJson(key, 'a:whatsapp', blob), { x: 1 })
  t.throws(() => decryptJson(key, 'b:whatsapp', blob), { code: 'GWB_CONFIG' })
})

t.test('key rotation: a blob names its key; previous keys open, never seal', async (t) => {
  const old = randomBytes(32)
  const ring = { current: key, previous: [old] }
  const underOld = encryptJson(old, 'a:genesys', { s: 'x' })
  t.equal(blobKeyId(underOld), keyId(old), 'the key id travels in the blob')
  t.same(decryptJson(ring, 'a:genesys', underOld), { s: 'x' }, 'opened with the previous key')
  t.equal(blobKeyId(encryptJson(ring, 'a:genesys', { s: 'x' })), keyId(key), 'sealed with the current key')
  t.throws(() => decryptJson(key, 'a:genesys', underOld), {
    code: 'GWB_CONFIG',
    message: new RegExp(
      `encrypted under key ${keyId(old)}, which is neither CREDENTIALS_KEY \\(${keyId(key)}\\) nor in CREDENTIALS_KEY_PREVIOUS`,
    ),
  })
  const v1 = v1Blob(old, 'a:genesys', { s: 'v1' })
  t.equal(blobKeyId(v1), undefined, 'a v1 blob names no key')
  t.same(decryptJson(ring, 'a:genesys', v1), { s: 'v1' }, 'a v1 blob opens with whichever key sealed it')
  t.throws(() => decryptJson(key, 'a:genesys', v1), {
    message: /neither CREDENTIALS_KEY nor any of CREDENTIALS_KEY_PREVIOUS/,
  })
  const forged = Buffer.from(underOld)
  forged[20] = (forged[20] ?? 0) ^ 1
  t.throws(() => decryptJson(ring, 'a:genesys', forged), { message: /tampered/ })
  t.throws(() => decryptJson(ring, 'a:genesys', Buffer.from([9, 1, 2])), { message: /malformed/ })
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
      message: /cannot decrypt credentials for acme:whatsapp: they were encrypted under key [0-9a-f]{16}/,
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

  t.test('rotating a signing secret keeps the replaced one, encrypted, until the overlap ends', async (t) => {
    const nowMs = Date.now()
    const g = await rotateCredentials(
      sql,
      key,
      'acme',
      'genesys',
      { webhookSecret: 'webhook-v2-long-enough' },
      {
        overlapMs: 60_000,
        nowMs,
      },
    )
    t.same(g.previousWebhookSecret, { secret: spec.genesys.webhookSecret, until: nowMs + 60_000 })
    t.same((await getCredentials(sql, key, 'acme', 'genesys'))?.previousWebhookSecret, g.previousWebhookSecret)
    const rows = await sql<{ ciphertext: Buffer }[]>`select ciphertext from tenant_credentials where tenant_id = 'acme'`
    for (const r of rows) t.notOk(r.ciphertext.toString('latin1').includes('plaintext'), 'the old secret is encrypted')
    const other = await rotateCredentials(sql, key, 'acme', 'genesys', { clientSecret: 'client-v2' }, { nowMs })
    t.same(other.previousWebhookSecret, g.previousWebhookSecret, 'another field rotated: the window runs on')
    const w = await rotateCredentials(sql, key, 'acme', 'whatsapp', { appSecret: 'app-v2' }, { overlapMs: 0, nowMs })
    t.equal(w.previousAppSecret, undefined, 'overlap 0 keeps nothing')

    // Re-adding the tenant file: an unchanged secret keeps its running window, a changed one gets one.
    await upsertTenant(
      sql,
      key,
      { ...spec, genesys: { ...spec.genesys, webhookSecret: 'webhook-v2-long-enough' } },
      {
        overlapMs: 5000,
        nowMs,
      },
    )
    const g2 = await getCredentials(sql, key, 'acme', 'genesys')
    t.same(g2?.previousWebhookSecret, g.previousWebhookSecret, 'unchanged by add: the window runs on')
    t.same((await getCredentials(sql, key, 'acme', 'whatsapp'))?.previousAppSecret, {
      secret: 'app-v2',
      until: nowMs + 5000,
    })
    await sql`update tenant_credentials set ciphertext = ${encryptJson(randomBytes(32), 'acme:genesys', {})}
      where tenant_id = 'acme' and type = 'genesys'`
    await upsertTenant(sql, key, spec, { overlapMs: 5000, nowMs })
    const { clientId, clientSecret, webhookSecret, integrationId } = spec.genesys
    t.same(
      await getCredentials(sql, key, 'acme', 'genesys'),
      { clientId, clientSecret, webhookSecret, integrationId },
      'an unreadable row is replaced by add, with nothing carried over',
    )
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

t.test('signingSecretsOf: a missing secret is empty (never verifies), a malformed previous is none', async (t) => {
  const g = { clientId: 'c', clientSecret: 'cs', integrationId: 'i' } as unknown as GenesysCredentials
  t.same(signingSecretsOf('genesys', g), { secret: '', previous: undefined })
  const w = { appSecret: 'a', previousAppSecret: { secret: 'old' } } as unknown as WhatsappCredentials
  t.same(signingSecretsOf('whatsapp', w), { secret: 'a', previous: undefined })
})
