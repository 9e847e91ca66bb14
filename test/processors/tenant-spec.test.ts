import { readFile } from 'node:fs/promises'
import t from 'tap'
import { validateTenantSpec } from '../../src/processors/tenant-spec.js'

const good = {
  id: 'acme-eu',
  name: 'Acme EU',
  status: 'active',
  genesys: {
    integrationId: 'int-1',
    region: 'mypurecloud.ie',
    clientId: 'cid',
    clientSecret: 'csecret',
    webhookSecret: 'a-webhook-secret-of-20',
  },
  whatsapp: {
    phoneNumberId: '100000000000009',
    businessAccountId: '200000000000009',
    accessToken: 'EAAG-token',
    appSecret: 'app-secret',
    verifyToken: 'verify',
  },
}

t.test('a complete spec is accepted', async (t) => {
  const r = validateTenantSpec(good)
  t.ok(r.ok)
  if (r.ok) t.same(r.value, good)
})

t.test('status defaults to active', async (t) => {
  const { status: _s, ...rest } = good
  const r = validateTenantSpec(rest)
  t.ok(r.ok && r.value.status === 'active')
})

t.test('the example sandbox tenant is valid', async (t) => {
  const text = await readFile(new URL('../../examples/tenants/sandbox.json', import.meta.url), 'utf8')
  const r = validateTenantSpec(JSON.parse(text))
  t.ok(r.ok, r.ok ? '' : r.errors.join('; '))
  if (r.ok) {
    t.equal(r.value.genesys.integrationId, 'sandbox-integration-0001')
    t.equal(r.value.whatsapp.phoneNumberId, '100000000000001')
  }
})

t.test('every bad field is named', async (t) => {
  const r = validateTenantSpec({
    id: 'Acme EU',
    name: '',
    status: 'paused',
    extra: 1,
    genesys: { ...good.genesys, region: 'not a domain', webhookSecret: 'short', clientId: 3, surprise: 'x' },
    whatsapp: { ...good.whatsapp, phoneNumberId: '+1 555', accessToken: undefined },
  })
  t.notOk(r.ok)
  if (r.ok) return
  const joined = r.errors.join('\n')
  for (const field of [
    'id:',
    'name:',
    'status:',
    'extra: unknown field',
    'genesys.region:',
    'genesys.webhookSecret: must be longer than 15 characters',
    'genesys.clientId:',
    'genesys.surprise: unknown field',
    'whatsapp.phoneNumberId:',
    'whatsapp.accessToken:',
  ]) {
    t.match(joined, field)
  }
  t.equal(r.errors.length, 10)
})

t.test('a webhook secret of exactly 15 characters is refused, 16 accepted', async (t) => {
  const at = (s: string) => validateTenantSpec({ ...good, genesys: { ...good.genesys, webhookSecret: s } }).ok
  t.notOk(at('x'.repeat(15)))
  t.ok(at('x'.repeat(16)))
})

t.test('missing sections and non-objects', async (t) => {
  t.same(validateTenantSpec(null), { ok: false, errors: ['tenant spec: must be a JSON object'] })
  t.same(validateTenantSpec([]), { ok: false, errors: ['tenant spec: must be a JSON object'] })
  const r = validateTenantSpec({ id: 'a', name: 'A' })
  t.same(r, { ok: false, errors: ['genesys: must be an object', 'whatsapp: must be an object'] })
})
