import t from 'tap'
import type { RunningGroup } from '../../src/consumer/group-member.js'
import type { FlowHandler } from '../../src/consumer/record-runner.js'
import { startConsumerGroup } from '../../src/consumer/start-group.js'
import { ok } from '../../src/processors/result.js'
import { createKafka } from '../../src/sinks/kafka/client.js'
import { recordClient } from '../../src/sinks/kafka/record-client.js'
import { ensureTopics } from '../../src/sinks/kafka/topics.js'
import { testConfig, testLog } from '../helpers/stack.js'

/**
 * A partition handed to another member while records of it wait behind their key here: those
 * queued records must not run here any more (the new owner reads them from the committed offset),
 * or two members would work one conversation at the same time. Records already running finish.
 */

const PARTITIONS = 4
const KEYS_PER_PARTITION = 2
const PER_KEY = 5

interface Call {
  member: string
  partition: number
  offset: number
}

function handlerFor(member: string, calls: Call[], done: Set<string>, gate: Promise<void>): FlowHandler<string> {
  return {
    flow: 'test',
    decode: (value) => Promise.resolve(value.toString()),
    async handle(_msg, _attempt, record) {
      calls.push({ member, partition: record.partition, offset: record.offset })
      await gate
      done.add(`${record.partition}:${record.offset}`)
      return ok(undefined)
    },
    onFail: () => Promise.resolve(),
    onDeadLetter: () => Promise.resolve(),
  }
}

async function until(what: string, cond: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

t.test('records queued behind their key stop when their partition moves to a new member', async (t) => {
  const config = testConfig()
  const { brokers, security } = config.kafka
  const kafka = createKafka({ brokers, security, clientId: 'consumer-group-test', log: testLog })
  // The members run on the configured client (KAFKA_CLIENT), as the bridge's do.
  const records = recordClient(config.kafka.client, kafka, { brokers, security, clientId: 'consumer-group-test' })
  const topic = `${config.kafka.groupPrefix}handover-topic`
  const groupId = `${config.kafka.groupPrefix}handover`
  await ensureTopics(kafka, [{ topic, record: 'DeadLetter', deadLetter: false }], PARTITIONS, 1)

  // Idempotent: a retried produce to the brand-new topic must not write the batch twice.
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 })
  await producer.connect()
  // Each key on one partition, PER_KEY records each, interleaved the way traffic arrives.
  const messages = []
  for (let n = 0; n < PER_KEY; n++) {
    for (let p = 0; p < PARTITIONS; p++) {
      for (let k = 0; k < KEYS_PER_PARTITION; k++) {
        messages.push({ key: `p${p}-k${k}`, value: `m${n}`, partition: p })
      }
    }
  }
  await producer.send({ topic, messages })
  await producer.disconnect()
  const total = messages.length

  const calls: Call[] = []
  const done = new Set<string>()
  let open!: () => void
  const gate = new Promise<void>((r) => (open = r))
  const opts = {
    groupId,
    topic,
    maxInFlight: 1000,
    commitIntervalMs: 100,
    maxAttempts: 3,
    retryBaseMs: 10,
    retryMaxMs: 100,
    retryMaxDurationMs: 60_000,
    unknownErrorMaxMs: 100,
  }
  const groups: RunningGroup[] = []
  t.teardown(async () => {
    open()
    await Promise.all(groups.map((g) => g.stop(5000)))
  })

  // Member A takes every partition; the first record of each key blocks, the rest queue behind it.
  const a = await startConsumerGroup(records, handlerFor('a', calls, done, gate), opts, { log: testLog })
  groups.push(a)
  await until('A to start the first record of every key', () => calls.length === PARTITIONS * KEYS_PER_PARTITION)

  // Member B joins: the group rebalances and some partitions move to B.
  const b = await startConsumerGroup(records, handlerFor('b', calls, done, Promise.resolve()), opts, { log: testLog })
  groups.push(b)
  await until('A to rejoin with fewer partitions', () => a.partitions().length < PARTITIONS)
  const aPartitions = a.partitions()
  const moved = [...Array(PARTITIONS).keys()].filter((p) => !aPartitions.includes(p))
  t.ok(moved.length > 0, `partitions ${moved.join(',')} moved to B`)

  open()
  await until('every record handled', () => done.size === total)
  // Let anything A would still (wrongly) start show up.
  await new Promise((r) => setTimeout(r, 500))

  const aOnMoved = calls.filter((c) => c.member === 'a' && moved.includes(c.partition))
  t.equal(
    aOnMoved.length,
    moved.length * KEYS_PER_PARTITION,
    'A ran only the record of each moved key that was already running, none of those queued behind it',
  )
  const bOnMoved = calls.filter((c) => c.member === 'b' && moved.includes(c.partition))
  t.equal(bOnMoved.length, moved.length * KEYS_PER_PARTITION * PER_KEY, 'B read the moved partitions from the start')
  const aKept = calls.filter((c) => c.member === 'a' && !moved.includes(c.partition))
  t.equal(aKept.length, (PARTITIONS - moved.length) * KEYS_PER_PARTITION * PER_KEY, 'A finished what it kept')
})
