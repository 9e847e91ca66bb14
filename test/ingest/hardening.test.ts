/**
 * Issue 11 on the real stack: every Meta POST verified and archived whatever its field, the tenant
 * named in the path (signature before parsing), one answer for an unknown id and a bad signature,
 * ids no store could hold refused as malformed, and /metrics and /ready off the public port.
 */
import t from 'tap'
import { randomUUID } from 'node:crypto'
import { request } from 'undici'
import { inboundText } from '../../src/fakes/meta-webhooks.js'
import { signGenesys, signMeta } from '../../src/fakes/sign.js'
import { BUCKETS } from '../../src/processors/object-keys.js'
import { waitArchived } from '../helpers/archive.js'
import { startHarness, type Harness } from '../helpers/bridge-harness.js'
import { topicSize } from '../helpers/topic-reader.js'

/** Records on every topic a webhook can reach. */
async function produced(h: Harness): Promise<number> {
  const tp = h.config.kafka.topics
  const topics = [tp.genesysOutbound, tp.whatsappInbound, tp.whatsappStatus, tp.whatsappRaw]
  const sizes = await Promise.all(topics.map((x) => topicSize(h.bridge.resources.kafka, x)))
  return sizes.reduce((a, b) => a + b, 0)
}

/** A webhook field other than `messages`: it names the WABA, never a phone number id. */
const accountUpdate = (wabaId: string): Record<string, unknown> => ({
  object: 'whatsapp_business_account',
  entry: [
    {
      id: wabaId,
      time: 1717754400,
      changes: [{ field: 'account_update', value: { phone_number: '15550000000', event: 'VERIFIED_ACCOUNT' } }],
    },
  ],
})

async function get(url: string): Promise<{ status: number; body: string }> {
  const res = await request(url)
  return { status: res.statusCode, body: await res.body.text() }
}

async function refusals(h: Harness, route: string, reason: string): Promise<number> {
  const text = (await get(`${h.adminUrl}/metrics`)).body
  const line = text
    .split('\n')
    .find((l) => l.startsWith(`gwb_ingest_refusals_total{route="${route}",reason="${reason}"}`))
  return line === undefined ? 0 : Number(line.split(' ').pop())
}

t.test('ingest hardening on the real stack', async (t) => {
  const h = await startHarness()
  t.teardown(() => h.close())
  const phone = h.tenant.whatsapp.phoneNumberId
  const integration = h.tenant.genesys.integrationId
  const genesysMsg = (integrationId = integration): Record<string, unknown> =>
    h.genesys.buildOutbound({ integrationId, conversationId: randomUUID(), toId: '447700900123', text: 'hi' })
  const metaMsg = (phoneNumberId = phone): Record<string, unknown> =>
    h.meta.buildWebhook({ phoneNumberId, messages: [inboundText({ from: '447700900123', body: 'hi' })] })

  t.test('an unsigned Meta POST of any field is 401 and produces nothing', async (t) => {
    const before = await produced(h)
    const cases: [string, Record<string, unknown>, string | undefined][] = [
      ['account_update, no signature', accountUpdate(h.tenant.whatsapp.businessAccountId), undefined],
      ['account_update, no signature, tenant in the path', accountUpdate('1'), `/webhook/meta/${phone}`],
      ['messages, no signature', metaMsg(), undefined],
      ['messages, no signature, tenant in the path', metaMsg(), `/webhook/meta/${phone}`],
    ]
    for (const [name, payload, path] of cases) {
      const res = await h.postMeta(payload, { signature: '', ...(path === undefined ? {} : { path }) })
      t.equal(res.status, 401, `${name}: ${res.body}`)
      t.equal(JSON.parse(res.body).error, 'bad_signature', name)
    }
    // Signed, but naming no number on the old route: no tenant's secret can vouch for it.
    const anon = await h.postMeta(accountUpdate(h.tenant.whatsapp.businessAccountId))
    t.equal(anon.status, 401, `a signed body naming no number needs the tenant in the path: ${anon.body}`)
    t.equal(await produced(h), before, 'nothing produced')
  })

  t.test('a signed non-message field, tenant in the path, is archived', async (t) => {
    const raw = await topicSize(h.bridge.resources.kafka, h.config.kafka.topics.whatsappRaw)
    const marker = `acct-${randomUUID()}`
    const res = await h.postMeta(accountUpdate(marker), { path: `/webhook/meta/${phone}` })
    t.equal(res.status, 200, res.body)
    t.equal(await topicSize(h.bridge.resources.kafka, h.config.kafka.topics.whatsappRaw), raw + 1, 'on the raw topic')
    const found = await waitArchived(h.bridge.resources.store, BUCKETS.webhooksInbound, h.tenant.id, (w) =>
      w.payload.toString('utf8').includes(marker),
    )
    t.equal(found.length, 1, 'and in the archive')
  })

  t.test('an unknown id and a bad signature get the same answer; the metric tells them apart', async (t) => {
    const before = await produced(h)
    const gUnknown0 = await refusals(h, 'genesys_webhook', 'unknown_id')
    const gBad0 = await refusals(h, 'genesys_webhook', 'bad_signature')
    const mUnknown0 = await refusals(h, 'meta_webhook', 'unknown_id')
    const unknownG = await h.postGenesys(genesysMsg(`int-${randomUUID()}`))
    const badG = await h.postGenesys(genesysMsg(), { signature: signGenesys('other', 'x'.repeat(20)) })
    t.same([unknownG.status, unknownG.body], [badG.status, badG.body], `Genesys: ${badG.body}`)
    t.equal(badG.status, 401)
    const unknownPath = await h.postGenesys(genesysMsg(), { path: `/webhook/genesys/int-${randomUUID()}` })
    t.same([unknownPath.status, unknownPath.body], [badG.status, badG.body], 'Genesys, id in the path')

    const unknownM = await h.postMeta(metaMsg('19999999999999'))
    const badM = await h.postMeta(metaMsg(), { signature: `sha256=${'0'.repeat(64)}` })
    t.same([unknownM.status, unknownM.body], [badM.status, badM.body], `Meta: ${badM.body}`)
    t.equal(badM.status, 401)
    const unknownMPath = await h.postMeta(metaMsg(), { path: '/webhook/meta/19999999999999' })
    t.same([unknownMPath.status, unknownMPath.body], [badM.status, badM.body], 'Meta, id in the path')

    t.ok((await refusals(h, 'genesys_webhook', 'unknown_id')) >= gUnknown0 + 2, 'unknown_id counted (Genesys)')
    t.ok((await refusals(h, 'genesys_webhook', 'bad_signature')) >= gBad0 + 1, 'bad_signature counted (Genesys)')
    t.ok((await refusals(h, 'meta_webhook', 'unknown_id')) >= mUnknown0 + 2, 'unknown_id counted (Meta)')
    t.equal(await produced(h), before, 'nothing produced')
  })

  t.test('ids no store could hold are malformed (400), never an outage (503)', async (t) => {
    const before = await produced(h)
    for (const bad of ['int-\u0000-x', 'x'.repeat(5000), 'bell\u0007', 'with space', '']) {
      const res = await h.postGenesys(genesysMsg(bad))
      const what = JSON.stringify(bad.slice(0, 20))
      t.equal(res.status, 400, `Genesys channel.id ${what}: ${res.body.slice(0, 200)}`)
    }
    for (const bad of ['1\u00002', '1'.repeat(5000), '12a', '\u001b[31m']) {
      const res = await h.postMeta(metaMsg(bad))
      t.equal(res.status, 400, `Meta phone_number_id ${JSON.stringify(bad.slice(0, 20))}: ${res.body.slice(0, 200)}`)
    }
    for (const path of [
      '/webhook/genesys/a%00b',
      '/webhook/meta/1%002',
      '/webhook/meta/%ff',
      `/webhook/meta/${'1'.repeat(300)}`,
    ]) {
      const res = await h.postMeta(metaMsg(), { path })
      t.equal(res.status, 400, `${path.slice(0, 40)}: ${res.body.slice(0, 200)}`)
    }
    const verify = await get(`${h.url}/webhook/meta?hub.mode=subscribe&hub.challenge=c&hub.verify_token=x&tenant=a%00b`)
    t.equal(verify.status, 400, `a tenant id with a NUL in the handshake: ${verify.body}`)
    t.equal(await produced(h), before, 'nothing produced')
  })

  t.test('with the tenant in the path, the signature is checked before the body is parsed', async (t) => {
    const notJson = await h.postGenesys(undefined, {
      raw: '{not json',
      signature: '',
      path: `/webhook/genesys/${integration}`,
    })
    t.equal(notJson.status, 401, `an unsigned non-JSON body is refused for its signature: ${notJson.body}`)
    const legacy = await h.postGenesys(undefined, { raw: '{not json', signature: '' })
    t.equal(legacy.status, 400, 'the old route still has to parse first')

    const other = await h.newTenant()
    const raw = JSON.stringify(genesysMsg(other.genesys.integrationId))
    const mismatch = await h.postGenesys(undefined, {
      raw,
      signature: signGenesys(raw, h.tenant.genesys.webhookSecret),
      path: `/webhook/genesys/${integration}`,
    })
    t.equal(mismatch.status, 400, `a body naming another integration: ${mismatch.body}`)
    t.equal(JSON.parse(mismatch.body).error, 'integration_mismatch')

    const metaRaw = JSON.stringify(metaMsg(other.whatsapp.phoneNumberId))
    const metaMismatch = await h.postMeta(undefined, {
      raw: metaRaw,
      signature: signMeta(metaRaw, h.tenant.whatsapp.appSecret),
      path: `/webhook/meta/${phone}`,
    })
    t.equal(metaMismatch.status, 400, `a body naming another number: ${metaMismatch.body}`)

    const before = await topicSize(h.bridge.resources.kafka, h.config.kafka.topics.genesysOutbound)
    t.equal((await h.postGenesys(genesysMsg(), { path: `/webhook/genesys/${integration}` })).status, 200)
    t.equal((await h.postGenesys(genesysMsg())).status, 200, 'the old route keeps working')
    t.equal(await topicSize(h.bridge.resources.kafka, h.config.kafka.topics.genesysOutbound), before + 2)
    t.equal((await h.postMeta(metaMsg(), { path: `/webhook/meta/${phone}` })).status, 200)
  })

  t.test('the handshake on the path form checks that number`s verify token only', async (t) => {
    const other = await h.newTenant()
    const q = (token: string): string =>
      `hub.mode=subscribe&hub.challenge=ch&hub.verify_token=${encodeURIComponent(token)}`
    const mine = await get(`${h.url}/webhook/meta/${phone}?${q(h.tenant.whatsapp.verifyToken)}`)
    t.same(mine, { status: 200, body: 'ch' })
    const theirs = await get(`${h.url}/webhook/meta/${phone}?${q(other.whatsapp.verifyToken)}`)
    t.equal(theirs.status, 403, 'another tenant`s token does not open this number')
    const unknown = await get(`${h.url}/webhook/meta/19999999999999?${q(h.tenant.whatsapp.verifyToken)}`)
    t.equal(unknown.status, 403)
  })

  t.test('/metrics and /ready answer on the admin port only; /health on both', async (t) => {
    t.equal((await get(`${h.url}/metrics`)).status, 404, 'no /metrics on the public port')
    t.equal((await get(`${h.url}/ready`)).status, 404, 'no /ready on the public port')
    t.equal((await get(`${h.url}/health`)).status, 200)
    t.equal((await get(`${h.adminUrl}/health`)).status, 200)
    const ready = await get(`${h.adminUrl}/ready`)
    t.equal(ready.status, 200, ready.body)
    const metrics = await get(`${h.adminUrl}/metrics`)
    t.equal(metrics.status, 200)
    t.match(metrics.body, /gwb_http_requests_total/)
    t.equal((await get(`${h.adminUrl}/webhook/meta?hub.mode=subscribe`)).status, 404, 'no webhooks on the admin port')
  })
})
