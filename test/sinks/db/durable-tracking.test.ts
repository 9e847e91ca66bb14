import t from 'tap'
import pino from 'pino'
import { durableTracking } from '../../../src/sinks/db/durable-tracking.js'
import type { TrackingWriter } from '../../../src/sinks/db/tracking-outcomes.js'

t.test('a tracking write after an external call is retried until the database takes it', async (t) => {
  let calls = 0
  const flaky = {
    markSent: async () => {
      calls++
      if (calls < 4) throw new Error('connection refused')
      return true
    },
  } as unknown as TrackingWriter
  const durable = durableTracking(flaky, { log: pino({ level: 'silent' }), baseMs: 1, maxMs: 5 })
  t.equal(
    await durable.markSent({
      tenantId: 'acme',
      direction: 'outbound',
      messageId: 'm1',
      wamid: 'wamid.1',
      at: new Date(),
    }),
    true,
  )
  t.equal(calls, 4, 'three failures, then written')
})

t.test('it gives up (throws) only after the configured time', async (t) => {
  const down = {
    markRetrying: async () => {
      throw new Error('still down')
    },
  } as unknown as TrackingWriter
  const durable = durableTracking(down, { log: pino({ level: 'silent' }), baseMs: 1, maxMs: 2, giveUpAfterMs: 30 })
  await t.rejects(
    durable.markRetrying({
      tenantId: 'acme',
      direction: 'outbound',
      messageId: 'm1',
      at: new Date(),
      errorCode: '500',
      errorText: 'x',
    }),
    /still down/,
  )
})
