import t from 'tap'
import { randomUUID } from 'node:crypto'
import { scanRanges, topicOffsets } from '../../src/cli/scan.js'
import { createKafka } from '../../src/sinks/kafka/client.js'
import { ensureTopics } from '../../src/sinks/kafka/topics.js'
import { testConfig, testLog } from '../helpers/stack.js'

/** Prefix ACLs grant a principal the groups under KAFKA_GROUP_PREFIX only: a scan's group is one of them. */
t.test("a scan's throwaway consumer group is named under KAFKA_GROUP_PREFIX and removed after", async (t) => {
  const config = testConfig()
  const kafka = createKafka({
    brokers: config.kafka.brokers,
    clientId: 'scan-test',
    security: config.kafka.security,
    log: testLog,
  })
  const topic = config.kafka.topics.errors
  await ensureTopics(kafka, [{ topic, record: 'BridgeErrorEvent', deadLetter: false }], 1, 1)
  const producer = kafka.producer()
  await producer.connect()
  await producer.send({ topic, messages: [{ key: randomUUID(), value: 'x' }] })
  await producer.disconnect()
  const admin = kafka.admin()
  await admin.connect()
  t.teardown(() => admin.disconnect())

  const groupsDuring: string[] = []
  const offsets = await topicOffsets(kafka, topic)
  await scanRanges(kafka, {
    topic,
    groupPrefix: config.kafka.groupPrefix,
    ranges: offsets.map((o) => ({ partition: o.partition, start: o.low, end: o.high })),
    onRecord: async () => {
      groupsDuring.push(...(await admin.listGroups()).groups.map((g) => g.groupId))
    },
  })
  const mine = groupsDuring.filter((g) => g.includes('cli-scan-'))
  t.ok(
    mine.some((g) => g.startsWith(`${config.kafka.groupPrefix}cli-scan-`)),
    `a group under the prefix: ${mine.join(' ')}`,
  )
  const after = (await admin.listGroups()).groups.map((g) => g.groupId)
  t.notOk(
    after.some((g) => g.startsWith(`${config.kafka.groupPrefix}cli-scan-`)),
    'and gone afterwards',
  )
})
