import t from 'tap'
import { randomUUID } from 'node:crypto'
import { inDoubt } from '../../src/cli/commands/in-doubt.js'
import { UsageError } from '../../src/cli/errors.js'
import { collector } from '../../src/cli/io.js'
import { upsertTenant } from '../../src/sinks/db/tenants.js'
import { createTestDb } from '../helpers/db.js'
import { tenantSpec } from '../helpers/tenants.js'
import { testConfig } from '../helpers/stack.js'

t.test('in-doubt list shows the sends whose outcome is unknown, and only those', async (t) => {
  const db = await createTestDb()
  t.teardown(() => db.drop())
  // A claim nobody settled for twice the window (4 s) is listed.
  const config = testConfig({ DATABASE_URL: db.url, META_TIMEOUT_MS: '1000', RECONCILE_WINDOW_MS: '2000' })
  const spec = tenantSpec()
  await upsertTenant(db.sql, config.credentialsKey, spec)
  const row = async (
    status: string,
    claimedSecondsAgo: number,
    errorText: string | null = null,
    more: { errorCode?: string; wamid?: string } = {},
  ) => {
    const id = randomUUID().replace(/-/g, '')
    await db.sql`
      insert into message_tracking (tenant_id, direction, genesys_message_id, conversation_id, wa_id, status, claimed_at,
                                    error_text, error_code, wamid)
      values (${spec.id}, 'outbound', ${id}, ${'conv-' + status}, '447700900001', ${status},
              now() - make_interval(secs => ${claimedSecondsAgo}), ${errorText}, ${more.errorCode ?? null},
              ${more.wamid ?? null})`
    return id
  }
  const stale = await row('claimed', 60)
  const unknown = await row('dead_lettered', 30, 'Headers Timeout Error (outcome unknown, not resent)')
  const fresh = await row('claimed', 0)
  const sent = await row('sent', 90)
  const refused = await row('dead_lettered', 20, 'HTTP 503 after 3 attempts')
  const unsettled = await row('dead_lettered', 10, 'no status named it', { errorCode: 'GWB_SEND_UNSETTLED' })
  // Settled later by a status naming it: it has its wamid now.
  const settledLate = await row('dead_lettered', 15, 'no status named it', {
    errorCode: 'GWB_SEND_UNSETTLED',
    wamid: `wamid.${randomUUID()}`,
  })

  const out = collector()
  await inDoubt(config, ['list', '--tenant', spec.id], out)
  const text = out.text()
  t.match(text, stale, 'a claim nobody settled for twice the window')
  t.match(text, unknown, 'a send with no answer (older versions)')
  t.match(text, unsettled, 'resent once, still no status')
  for (const id of [fresh, sent, refused, settledLate]) t.notMatch(text, id, 'not in doubt')
  t.match(text, /3 message\(s\) in doubt/)
  t.ok(text.indexOf(stale) < text.indexOf(unknown), 'oldest first')

  const json = collector()
  await inDoubt(config, ['list', '--tenant', spec.id, '--json'], json)
  const rows = JSON.parse(json.text()) as { genesysMessageId: string; kind: string }[]
  t.same(
    rows.map((r) => [r.genesysMessageId, r.kind]),
    [
      [stale, 'claimed'],
      [unknown, 'outcome-unknown'],
      [unsettled, 'outcome-unknown'],
    ],
  )
  await t.rejects(inDoubt(config, ['show'], collector()), UsageError)
})
