/**
 * SIGTERM during traffic (issue 14 item 4): readiness fails first, the public listener keeps taking
 * requests through SHUTDOWN_DRAIN_MS, then closes; requests in progress finish, the process exits
 * 0, and every webhook that was answered 200 is on the topic.
 */
import t from 'tap'
import { randomUUID } from 'node:crypto'
import { Agent, request } from 'undici'
import { signGenesys } from '../../src/fakes/sign.js'
import { startHarness } from '../helpers/bridge-harness.js'
import { spawnBridge } from '../helpers/bridge-process.js'
import { collectRecords } from '../helpers/topic-reader.js'

t.test('SIGTERM: /ready turns 503 before the listener closes, and no acknowledged webhook is lost', async (t) => {
  // The harness owns the topics and the tenant; the bridge under test is a child process.
  const h = await startHarness({ ROLES: 'status' })
  t.teardown(() => h.close())
  const child = await spawnBridge({ ...h.env, ROLES: 'ingest', SHUTDOWN_DRAIN_MS: '2000' })
  t.teardown(() => child.kill('SIGKILL'))
  const { port, adminPort } = child.ports()
  const agent = new Agent({ connections: 8 })
  t.teardown(() => agent.close())

  const acked: { id: string; at: number }[] = []
  let refusedAt: number | undefined
  const post = async (): Promise<boolean> => {
    const body = JSON.stringify(
      h.genesys.buildOutbound({
        integrationId: h.tenant.genesys.integrationId,
        conversationId: randomUUID(),
        toId: '447700900123',
        text: 'during shutdown',
      }),
    )
    try {
      const res = await request(`http://127.0.0.1:${port}/webhook/genesys`, {
        method: 'POST',
        dispatcher: agent,
        headers: {
          'content-type': 'application/json',
          'x-hub-signature-256': signGenesys(body, h.tenant.genesys.webhookSecret),
        },
        body,
      })
      await res.body.text()
      if (res.statusCode === 200) acked.push({ id: (JSON.parse(body) as { id: string }).id, at: Date.now() })
      return true
    } catch {
      refusedAt ??= Date.now()
      return false
    }
  }
  const traffic = Promise.all(
    Array.from({ length: 4 }, async () => {
      while (await post()) {
        // keep sending until the listener refuses
      }
    }),
  )

  let readyFailedAt: number | undefined
  let readyBody = ''
  const probe = (async () => {
    while (readyFailedAt === undefined && refusedAt === undefined) {
      try {
        const res = await request(`http://127.0.0.1:${adminPort}/ready`)
        const text = await res.body.text()
        if (res.statusCode === 503) {
          readyFailedAt = Date.now()
          readyBody = text
        }
      } catch {
        return
      }
    }
  })()

  while (acked.length < 20) await new Promise((r) => setTimeout(r, 20))
  const exit = child.kill('SIGTERM')
  await Promise.all([traffic, probe])
  t.equal(await exit, 0, 'the process exits 0')

  t.ok(readyFailedAt !== undefined, `/ready answered 503: ${readyBody}`)
  t.match(JSON.parse(readyBody || '{}'), { status: 'draining' })
  t.ok(refusedAt !== undefined, 'the listener closed in the end')
  const afterReadyFailed = acked.filter((a) => a.at > (readyFailedAt ?? Infinity)).length
  t.ok(afterReadyFailed > 0, `${afterReadyFailed} webhooks were still accepted after /ready turned 503`)
  t.ok((readyFailedAt ?? Infinity) < (refusedAt ?? 0), '/ready failed before the listener closed')

  const topic = h.config.kafka.topics.genesysOutbound
  const seen = await collectRecords<'GenesysOutboundEnvelope'>(
    h.bridge.resources.kafka,
    h.bridge.resources.codec,
    topic,
  )
  t.teardown(() => seen.stop())
  const want = new Set(acked.map((a) => a.id))
  const deadline = Date.now() + 30_000
  let found = 0
  while (Date.now() < deadline) {
    found = new Set(seen.records.map((r) => r.messageId).filter((id) => want.has(id))).size
    if (found === want.size) break
    await new Promise((r) => setTimeout(r, 100))
  }
  t.equal(found, want.size, `all ${want.size} acknowledged webhooks are on the topic`)
})
