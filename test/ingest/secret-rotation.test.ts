import t from 'tap'
import { randomUUID } from 'node:crypto'
import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { tenants } from '../../src/cli/commands/tenants.js'
import { collector } from '../../src/cli/io.js'
import { inboundText, metaJson } from '../../src/fakes/meta-webhooks.js'
import { signGenesys, signMeta } from '../../src/fakes/sign.js'
import { startHarness } from '../helpers/bridge-harness.js'
import { topicSize } from '../helpers/topic-reader.js'

const HOUR = 3_600_000

/** Polls until `check` holds: a rotation reaches the bridge by pub/sub, not at a known moment. */
async function eventually(what: string, check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await check()) return
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`never: ${what}`)
}

t.test('webhook secrets rotate with an overlap: the old one verifies until its end, then only the new', async (t) => {
  // The bridge's clock: the test moves it forward instead of waiting an hour.
  let skewMs = 0
  const h = await startHarness({ ROLES: 'ingest' }, { now: () => Date.now() + skewMs })
  t.teardown(() => h.close())
  const { kafka } = h.bridge.resources
  const topics = h.config.kafka.topics
  const id = h.tenant.id

  const genesys = async (secret: string): Promise<number> => {
    const raw = JSON.stringify(
      h.genesys.buildOutbound({
        integrationId: h.tenant.genesys.integrationId,
        conversationId: randomUUID(),
        toId: '447700900123',
        text: 'hello',
      }),
    )
    return (await h.postGenesys(undefined, { raw, signature: signGenesys(raw, secret) })).status
  }
  const meta = async (secret: string): Promise<number> => {
    const raw = metaJson(
      h.meta.buildWebhook({
        phoneNumberId: h.tenant.whatsapp.phoneNumberId,
        messages: [inboundText({ from: '447700900123', body: 'hi' })],
      }),
    )
    return (await h.postMeta(undefined, { raw, signature: signMeta(raw, secret) })).status
  }
  const both = async (g: string, m: string): Promise<[number, number]> => [await genesys(g), await meta(m)]
  const sizes = async () => [
    await topicSize(kafka, topics.genesysOutbound),
    await topicSize(kafka, topics.whatsappInbound),
  ]

  const v1 = { webhook: h.tenant.genesys.webhookSecret, app: h.tenant.whatsapp.appSecret }
  const v2 = { webhook: `webhook-secret-v2-${randomUUID()}`, app: `app-secret-v2-${randomUUID()}` }
  const v3 = { webhook: `webhook-secret-v3-${randomUUID()}`, app: `app-secret-v3-${randomUUID()}` }
  t.same(await both(v1.webhook, v1.app), [200, 200], 'before: the current secrets verify')
  t.same(await both(v2.webhook, v2.app), [401, 401], 'before: the next secrets do not')

  const out = collector()
  const rotatedAt = Date.now()
  const json = collector()
  await tenants(
    h.config,
    [
      'rotate',
      id,
      '--genesys-webhook-secret',
      v2.webhook,
      '--whatsapp-app-secret',
      v2.app,
      '--overlap',
      '1h',
      '--json',
    ],
    json,
  )
  const summary = JSON.parse(json.text()) as { rotated: string[]; overlaps: Record<string, string> }
  t.same(summary.rotated, ['whatsapp.appSecret', 'genesys.webhookSecret'])
  t.same(Object.keys(summary.overlaps).sort(), ['genesys.webhookSecret', 'whatsapp.appSecret'])
  for (const end of Object.values(summary.overlaps)) {
    t.ok(Date.parse(end) >= rotatedAt + HOUR && Date.parse(end) <= Date.now() + HOUR, `the overlap ends 1h on: ${end}`)
  }
  await tenants(h.config, ['show', id], out)
  t.match(out.text(), /previousWebhookSecret: •••••• fp:[0-9a-f]{8}, accepted until /)
  t.match(out.text(), /previousAppSecret: •••••• fp:[0-9a-f]{8}, accepted until /)
  t.notOk(json.text().includes('•') || json.text().includes('fp:'), 'the JSON names fields, no masks')
  for (const s of [v1.webhook, v1.app, v2.webhook, v2.app]) {
    t.notOk(out.text().includes(s) || json.text().includes(s), 'no secret printed')
  }

  await eventually('the new secrets verify', async () => (await both(v2.webhook, v2.app)).join() === '200,200')
  t.same(await both(v1.webhook, v1.app), [200, 200], 'inside the overlap the old secrets still verify')
  skewMs = HOUR - 60_000
  t.same(await both(v1.webhook, v1.app), [200, 200], 'a minute before its end, still')
  t.same(await both(v2.webhook, v2.app), [200, 200])

  skewMs = HOUR + 1000
  const before = await sizes()
  t.same(await both(v1.webhook, v1.app), [401, 401], 'after the end the old secrets are refused')
  t.same(await sizes(), before, 'and nothing they signed reaches a topic')
  t.same(await both(v2.webhook, v2.app), [200, 200], 'the new ones keep working')

  // --overlap 0 (a leaked secret): the replaced secret stops at once, as soon as the rotation lands.
  skewMs = 0
  await tenants(
    h.config,
    ['rotate', id, '--genesys-webhook-secret', v3.webhook, '--whatsapp-app-secret', v3.app, '--overlap', '0'],
    out,
  )
  t.match(out.text(), /genesys\.previousWebhookSecret: none, the replaced secret no longer verifies/)
  await eventually('the v3 secrets verify', async () => (await both(v3.webhook, v3.app)).join() === '200,200')
  t.same(await both(v2.webhook, v2.app), [401, 401], 'no overlap: the v2 secrets are refused at once')
  t.same(await both(v1.webhook, v1.app), [401, 401], 'and v1 stays refused')

  // Re-adding the tenant file with a new webhook secret overlaps too (default 24h), so a tenant
  // file kept in version control can carry a rotation.
  const v4 = `webhook-secret-v4-${randomUUID()}`
  const file = join(await mkdtemp(join(tmpdir(), 'gwb-rotation-')), 'tenant.json')
  const spec = {
    ...h.tenant,
    genesys: { ...h.tenant.genesys, webhookSecret: v4 },
    whatsapp: { ...h.tenant.whatsapp, appSecret: v3.app },
  }
  await writeFile(file, JSON.stringify(spec))
  await tenants(h.config, ['add', '--file', file], out)
  await eventually('the v4 webhook secret verifies', async () => (await genesys(v4)) === 200)
  t.equal(await genesys(v3.webhook), 200, 'the v3 webhook secret still verifies after add')
  skewMs = 24 * HOUR
  t.same(await both(v3.webhook, v3.app), [401, 200], 'until 24h later; the unchanged app secret stays')
  for (const secret of [v3.webhook, v3.app, v4]) t.notOk(out.text().includes(secret), 'no secret printed')
})
