import { createRequire } from 'node:module'
import t from 'tap'
import type { KafkaSecurity } from '../../../src/config/kafka-security.js'
import { createKafka } from '../../../src/sinks/kafka/client.js'
import { testLog } from '../../helpers/stack.js'

const require = createRequire(import.meta.url)

interface Queue {
  throttledUntil: number
  push(req: { entry: Record<string, unknown>; expectResponse: boolean; sendRequest: () => void }): void
}
type QueueClass = new (opts: Record<string, unknown>) => Queue
// kafkajs's internal request queue, the class the guard changes.
const RequestQueue = require('kafkajs/src/network/requestQueue/index.js') as QueueClass & {
  prototype: { checkPendingRequests: (this: unknown) => void }
}

/** Counts the queue checks kafkajs runs, on every connection of this process. */
function countChecks(): { count: () => number; restore: () => void } {
  const original = RequestQueue.prototype.checkPendingRequests
  let n = 0
  RequestQueue.prototype.checkPendingRequests = function (this: unknown) {
    n++
    original.call(this)
  }
  return { count: () => n, restore: () => (RequestQueue.prototype.checkPendingRequests = original) }
}

const noSecurity: KafkaSecurity = { protocol: 'PLAINTEXT', tls: undefined, sasl: undefined }
const brokers = (process.env['KAFKA_BROKERS'] ?? '127.0.0.1:9092').split(',')

t.test('an idle connection to the broker runs no timer loop', async (t) => {
  const kafka = createKafka({ brokers, clientId: 'gwb-test-idle', security: noSecurity, log: testLog })
  const admin = kafka.admin()
  await admin.connect()
  t.teardown(() => admin.disconnect())
  await admin.listTopics() // a request answered: kafkajs 2.2.4 re-arms its check after every response
  const checks = countChecks()
  t.teardown(checks.restore)
  const windowMs = 500
  await new Promise((r) => setTimeout(r, windowMs))
  // Unguarded, each connection checks every millisecond (about 500 here); guarded, none is due.
  t.ok(checks.count() <= 5, `${checks.count()} queue checks in ${windowMs} ms on an idle connection`)
})

t.test('a request held back by broker throttling is still sent when the throttle ends', async (t) => {
  createKafka({ brokers, clientId: 'gwb-test-idle', security: noSecurity, log: testLog }) // installs the guard
  const noop = () => undefined
  const queue = new RequestQueue({
    maxInFlightRequests: 1,
    requestTimeout: 1000,
    enforceRequestTimeout: false,
    clientId: 'gwb-test',
    broker: 'b:9092',
    logger: { debug: noop, info: noop, warn: noop, error: noop },
  })
  queue.throttledUntil = Date.now() + 50
  const sent = new Promise<number>((resolve) => {
    const at = Date.now()
    queue.push({
      entry: { correlationId: 1, apiKey: 3, apiName: 'Metadata', apiVersion: 0, resolve: noop, reject: noop },
      expectResponse: false,
      sendRequest: () => resolve(Date.now() - at),
    })
  })
  const after = await Promise.race([sent, new Promise<'never'>((r) => setTimeout(() => r('never'), 2000).unref())])
  t.not(after, 'never', 'sent once the throttle ended')
})
