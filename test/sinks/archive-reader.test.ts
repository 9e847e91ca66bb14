import t from 'tap'
import { randomUUID } from 'node:crypto'
import { archiveObjects, encodeArchiveBatch } from '../../src/processors/archive-batch.js'
import { ALL_BUCKETS, archiveKey, BUCKETS } from '../../src/processors/object-keys.js'
import { readArchive } from '../../src/sinks/archive-reader.js'
import { createObjectStore } from '../../src/sinks/object-store.js'
import { testConfig } from '../helpers/stack.js'

t.test('the archive reads both layouts, keeps the range and gives receipt order', async (t) => {
  const config = testConfig()
  const store = createObjectStore(config.s3)
  t.teardown(() => store.close())
  await store.ensureBuckets([...ALL_BUCKETS])
  const tenantId = `reader-${randomUUID().slice(0, 8)}`
  const bucket = BUCKETS.webhooksOutbound
  const base = Date.parse('2026-11-26T08:00:00.000Z')
  // Before batching: one webhook per object.
  await store.putObject(
    bucket,
    archiveKey({ tenantId, conversationId: 'c1', receivedAt: new Date(base + 20), discriminator: '0-5' }),
    Buffer.from('old layout'),
    'application/json',
  )
  // Batches: partition 0 holds an early and a late one; partition 1 one outside the range.
  const entry = (partition: number, offset: number, ms: number, text: string) => ({
    tenantId,
    receivedAtMs: base + ms,
    name: 'c',
    partition,
    offset,
    metadata: {},
    payload: Buffer.from(text),
  })
  for (const o of archiveObjects([
    entry(0, 1, 10, 'first'),
    entry(0, 2, 30, 'third'),
    entry(1, 9, 5_000, 'after the range'),
  ])) {
    await store.putObject(bucket, o.key, encodeArchiveBatch(o.entries), 'application/x-ndjson')
  }
  await store.putObject(
    bucket,
    `${tenantId}/2026-11-26/${base}-p7-o1-n1.ndjson`,
    Buffer.from('garbage\n'),
    'text/plain',
  )

  const read = await readArchive(store, bucket, tenantId, new Date(base), new Date(base + 1000))
  t.same(
    read.webhooks.map((w) => w.payload.toString()),
    ['first', 'old layout', 'third'],
    'in range, in receipt order, both layouts',
  )
  t.equal(read.listed, 4, 'every object of the day was listed')
  t.equal(read.bad, 1, 'the line that is not a webhook is counted')
})
