import t from 'tap'
import { randomUUID } from 'node:crypto'
import { archive } from '../../src/cli/commands/archive.js'
import { retention } from '../../src/cli/commands/retention.js'
import { collector } from '../../src/cli/io.js'
import { waitArchived } from '../helpers/archive.js'
import { startHarness } from '../helpers/bridge-harness.js'
import { BUCKETS, ALL_BUCKETS } from '../../src/processors/object-keys.js'

const summary = (text: string): string => /listed \d+, matched \d+, produced \d+, skipped \d+/.exec(text)?.[0] ?? text

t.test('archive replay feeds archived webhooks back through ingest; --resend sends again once', async (t) => {
  const h = await startHarness()
  t.teardown(() => h.close())
  const store = h.bridge.resources.store
  const waA = '447700900501'
  const waB = '447700900502'
  const convA = randomUUID()
  for (const [conv, wa] of [
    [convA, waA],
    [randomUUID(), waB],
  ] as const) {
    const body = h.genesys.buildOutbound({
      integrationId: h.tenant.genesys.integrationId,
      conversationId: conv,
      toId: wa,
      text: `to ${wa}`,
    })
    t.equal((await h.postGenesys(body)).status, 200)
  }
  await h.meta.waitForCount(2, (r) => r.status === 200, 20_000)
  await waitArchived(store, BUCKETS.webhooksOutbound, h.tenant.id, () => true, { atLeast: 2 })
  const since = new Date(Date.now() - 3_600_000).toISOString()
  const args = ['replay', '--tenant', h.tenant.id, '--since', since]

  const dry = collector()
  await archive(h.config, [...args, '--dry-run'], dry)
  t.equal(summary(dry.text()), 'listed 2, matched 2, produced 0, skipped 0')

  const plain = collector()
  await archive(h.config, args, plain)
  t.equal(summary(plain.text()), 'listed 2, matched 2, produced 2, skipped 0')
  await new Promise((r) => setTimeout(r, 2000))
  t.equal(h.meta.messagesTo(waA).length, 1, 'already sent: skipped by the claim')
  t.equal(h.meta.messagesTo(waB).length, 1)

  const resend = collector()
  await archive(h.config, [...args, '--conversation', convA, '--resend'], resend)
  t.match(summary(resend.text()), /matched 1, produced 1/)
  await h.meta.waitForCount(3, (r) => r.status === 200, 20_000)
  await new Promise((r) => setTimeout(r, 1000))
  t.equal(h.meta.messagesTo(waA).length, 2, 'resent once')
  t.equal(h.meta.messagesTo(waB).length, 1)

  await t.rejects(archive(h.config, ['replay', '--tenant', 'nobody', '--since', since], collector()), {
    message: /no tenant nobody/,
  })
})

t.test('retention sweep applies a lifecycle rule or sweeps each bucket', async (t) => {
  const h = await startHarness()
  t.teardown(() => h.close())
  const out = collector()
  // Scoped to this test's tenant: the shared buckets of a developer machine can hold a bench's worth.
  await retention(h.config, ['sweep', '--days', '30', '--tenant', h.tenant.id], out)
  for (const b of ALL_BUCKETS) t.match(out.text(), new RegExp(`${b}: tenant ${h.tenant.id}; deleted \\d+`))
})
