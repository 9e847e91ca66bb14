import t from 'tap'
import { randomUUID } from 'node:crypto'
import { deadLetters } from '../../src/cli/commands/dead-letters.js'
import { CliFailure, UsageError } from '../../src/cli/errors.js'
import { collector } from '../../src/cli/io.js'
import { startHarness, type Harness } from '../helpers/bridge-harness.js'

interface Listed {
  dlqPartition: number
  dlqOffset: number
  code: string
  tenantId: string | null
  redriven: boolean
}

async function listDeadLetters(h: Harness): Promise<Listed[]> {
  const out = collector()
  await deadLetters(h.config, ['list', '--topic', 'genesys-outbound', '--json'], out)
  return JSON.parse(out.text()) as Listed[]
}

async function waitDeadLetters(h: Harness, n: number): Promise<Listed[]> {
  const deadline = Date.now() + 30_000
  for (;;) {
    const items = await listDeadLetters(h)
    if (items.length >= n) return items
    if (Date.now() > deadline) throw new Error(`expected ${n} dead letters, have ${items.length}`)
    await new Promise((r) => setTimeout(r, 200))
  }
}

const settle = (ms = 1500) => new Promise((r) => setTimeout(r, ms))

t.test('a dead-lettered message re-driven after the fault is fixed is delivered once', async (t) => {
  const h = await startHarness({ MAX_ATTEMPTS: '2', RETRY_BASE_MS: '20', RETRY_MAX_MS: '50' })
  t.teardown(() => h.close())
  const waX = '447700900401'
  const waY = '447700900402'
  h.meta.failNext(20, { status: 500 })
  for (const [wa, text] of [
    [waX, 'first'],
    [waY, 'second'],
  ] as const) {
    const body = h.genesys.buildOutbound({
      integrationId: h.tenant.genesys.integrationId,
      conversationId: randomUUID(),
      toId: wa,
      text,
    })
    t.equal((await h.postGenesys(body)).status, 200)
  }
  const dead = await waitDeadLetters(h, 2)
  t.equal(dead.length, 2)
  t.ok(dead.every((d) => d.code === 'GWB_META_TRANSIENT' && d.tenantId === h.tenant.id && !d.redriven))
  t.equal(h.meta.messagesTo(waX).length + h.meta.messagesTo(waY).length, 0, 'nothing delivered while failing')

  const text = collector()
  await deadLetters(h.config, ['list', '--topic', 'genesys-outbound'], text)
  t.match(text.text(), /GWB_META_TRANSIENT/)
  t.match(text.text(), /2 dead letter\(s\)/)

  // The fault is fixed.
  h.meta.reset()

  // One by offset (a dry run first, which changes nothing).
  const second = dead[1] as Listed
  const at = ['--offset', String(second.dlqOffset), '--partition', String(second.dlqPartition)]
  const dry = collector()
  await deadLetters(h.config, ['redrive', '--topic', 'genesys-outbound', ...at, '--dry-run'], dry)
  t.match(dry.text(), /re-driven 1 \(dry run\)/)
  const one = collector()
  await deadLetters(h.config, ['redrive', '--topic', 'genesys-outbound', ...at], one)
  t.match(one.text(), /re-driven 1,/)
  await h.meta.waitForCount(1, (r) => r.status === 200, 20_000)

  await t.rejects(
    deadLetters(h.config, ['redrive', '--topic', 'genesys-outbound', ...at], collector()),
    CliFailure,
    'the same offset is not re-driven twice without --force',
  )

  // --all re-drives only the one not yet re-driven, and a second --all nothing.
  const all = collector()
  await deadLetters(h.config, ['redrive', '--topic', 'genesys-outbound', '--all'], all)
  t.match(all.text(), /re-driven 1,/)
  await h.meta.waitForCount(2, (r) => r.status === 200, 20_000)
  const again = collector()
  await deadLetters(h.config, ['redrive', '--topic', 'genesys-outbound', '--all'], again)
  t.match(again.text(), /re-driven 0/)

  await settle()
  t.equal(h.meta.messagesTo(waX).length, 1, 'first delivered exactly once')
  t.equal(h.meta.messagesTo(waY).length, 1, 'second delivered exactly once')
  t.ok(
    (await listDeadLetters(h)).every((d) => d.redriven),
    'list shows both re-driven',
  )
})

t.test('dead-letters usage errors', async (t) => {
  const h = await startHarness()
  t.teardown(() => h.close())
  await t.rejects(deadLetters(h.config, ['redrive', '--topic', 'genesys-outbound'], collector()), UsageError)
  await t.rejects(deadLetters(h.config, ['list'], collector()), { message: /--topic is required/ })
  await t.rejects(deadLetters(h.config, ['list', '--topic', 'bridge-errors'], collector()), {
    message: /no dead-letter topic/,
  })
  await t.rejects(deadLetters(h.config, ['purge'], collector()), { message: /unknown subcommand "purge"/ })
})
