import t from 'tap'
import { randomUUID } from 'node:crypto'
import { request } from 'undici'
import { signGenesys } from '../../src/fakes/sign.js'
import { startHarness } from '../helpers/bridge-harness.js'
import { topicSize } from '../helpers/topic-reader.js'

t.test(
  'POST /webhook/genesys refuses bad input with the right 4xx and a JSON reason, and stores nothing',
  async (t) => {
    const h = await startHarness({ HTTP_MAX_BODY_BYTES: '65536' })
    t.teardown(() => h.close())
    const { kafka } = h.bridge.resources
    const topic = h.config.kafka.topics.genesysOutbound
    const inactive = await h.newTenant({ status: 'inactive' })
    const before = await topicSize(kafka, topic)
    const msg = (integrationId = h.tenant.genesys.integrationId) =>
      h.genesys.buildOutbound({ integrationId, conversationId: randomUUID(), toId: '447700900123', text: 'hello' })

    const cases: {
      name: string
      send: () => Promise<{ status: number; body: string }>
      status: number
      error: string
    }[] = [
      {
        name: 'bad signature',
        send: () => h.postGenesys(msg(), { signature: signGenesys('another body', h.tenant.genesys.webhookSecret) }),
        status: 401,
        error: 'bad_signature',
      },
      {
        name: 'hex signature where Genesys sends Base64',
        send: () => {
          const raw = JSON.stringify(msg())
          const hex = signGenesys(raw, h.tenant.genesys.webhookSecret)
          const asHex = `sha256=${Buffer.from(hex.slice(7), 'base64').toString('hex')}`
          return h.postGenesys(undefined, { raw, signature: asHex })
        },
        status: 401,
        error: 'bad_signature',
      },
      {
        name: 'missing signature',
        send: () => h.postGenesys(msg(), { signature: '' }),
        status: 401,
        error: 'bad_signature',
      },
      {
        name: 'unknown integration (the same answer as a bad signature)',
        send: () => h.postGenesys(msg(`int-${randomUUID()}`)),
        status: 401,
        error: 'bad_signature',
      },
      {
        name: 'inactive tenant',
        send: () => {
          const raw = JSON.stringify(msg(inactive.genesys.integrationId))
          return h.postGenesys(undefined, { raw, signature: signGenesys(raw, inactive.genesys.webhookSecret) })
        },
        status: 403,
        error: 'tenant_inactive',
      },
      {
        name: 'malformed JSON',
        send: () => h.postGenesys(undefined, { raw: '{"id": "x", ' }),
        status: 400,
        error: 'malformed_payload',
      },
      {
        name: 'JSON of the wrong shape',
        send: () => h.postGenesys({ id: 1, channel: 'nope' }),
        status: 400,
        error: 'malformed_payload',
      },
      {
        name: 'body too large',
        send: () => h.postGenesys({ ...msg(), text: 'x'.repeat(70_000) }),
        status: 413,
        error: 'body_too_large',
      },
    ]
    for (const c of cases) {
      const res = await c.send()
      t.equal(res.status, c.status, `${c.name}: ${res.body}`)
      const body = JSON.parse(res.body) as { error: string; reason: string }
      t.equal(body.error, c.error, `${c.name}: error code`)
      t.ok(body.reason.length > 0, `${c.name}: a reason`)
    }

    const wrongMethod = await request(`${h.url}/webhook/genesys`, { method: 'PUT', body: '{}' })
    t.equal(wrongMethod.statusCode, 405)
    t.equal(wrongMethod.headers['allow'], 'POST')
    t.match(JSON.parse(await wrongMethod.body.text()), { error: 'method_not_allowed' })

    t.equal(await topicSize(kafka, topic), before, 'nothing reached the topic')
    t.equal((await h.postGenesys(msg())).status, 200, 'and the route still works afterwards')
    t.equal(await topicSize(kafka, topic), before + 1)
  },
)
