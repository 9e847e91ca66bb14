import t from 'tap'
import { randomUUID } from 'node:crypto'
import kafkajs, { Kafka, type Consumer, type ConsumerRunConfig } from 'kafkajs'
import { request } from 'undici'
import { startHarness } from '../helpers/bridge-harness.js'

/**
 * A consumer that kafkajs stops for good (a non-retriable error: CRASH with restart false) must not
 * leave the process looking healthy. The error is injected into the real kafkajs consumer: once
 * armed, the next batch handed to the bridge throws as a broken broker answer or a bug would.
 */
t.test('a consumer group that crashed without restart fails /health', async (t) => {
  let armed = false
  const original = Kafka.prototype.consumer
  Kafka.prototype.consumer = function (this: Kafka, ...args: Parameters<Kafka['consumer']>): Consumer {
    const consumer = original.apply(this, args)
    const run = consumer.run.bind(consumer)
    consumer.run = (config?: ConsumerRunConfig) => {
      const eachBatch = config?.eachBatch
      return run({
        ...config,
        ...(eachBatch === undefined
          ? {}
          : {
              eachBatch: async (payload) => {
                if (armed) throw new kafkajs.KafkaJSNonRetriableError('injected: not retriable')
                await eachBatch(payload)
              },
            }),
      })
    }
    return consumer
  }
  t.teardown(() => {
    Kafka.prototype.consumer = original
  })
  // The crash is kafkajs's (its consumer stops for good); the other client's groups consume again by themselves.
  const h = await startHarness({ ROLES: 'ingest,outbound', KAFKA_CLIENT: 'kafkajs' })
  t.teardown(() => h.close())

  const health = async () => {
    const res = await request(`${h.url}/health`)
    return { status: res.statusCode, body: (await res.body.json()) as { status: string; failures?: unknown[] } }
  }
  t.equal((await health()).status, 200, 'healthy while consuming')

  armed = true
  const body = h.genesys.buildOutbound({
    integrationId: h.tenant.genesys.integrationId,
    conversationId: randomUUID(),
    toId: '447700900555',
    text: 'crash me',
  })
  t.equal((await h.postGenesys(body)).status, 200)
  let last = await health()
  for (let i = 0; i < 300 && last.status === 200; i++) {
    await new Promise((r) => setTimeout(r, 100))
    last = await health()
  }
  t.equal(last.status, 503, '/health fails once the consumer is gone for good')
  t.equal(last.body.status, 'dead')
  t.match(last.body.failures, [{ part: /^consumer .*outbound$/, reason: /injected/ }])
})
