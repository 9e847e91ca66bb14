import t from 'tap'
import {
  archiveObjects,
  decodeArchiveBatch,
  encodeArchiveBatch,
  type ArchiveEntry,
} from '../../src/processors/archive-batch.js'

const at = Date.parse('2026-11-26T10:00:00.000Z')
const entry = (over: Partial<ArchiveEntry>): ArchiveEntry => ({
  tenantId: 'tn',
  receivedAtMs: at,
  name: 'conv',
  partition: 0,
  offset: 0,
  metadata: { 'message-id': 'm' },
  payload: Buffer.from('{}'),
  ...over,
})

t.test('a batch gives back every webhook byte for byte, in order', async (t) => {
  const odd = Buffer.from([0x7b, 0xff, 0x00, 0x0a, 0xe2, 0x82, 0x7d]) // invalid UTF-8, a NUL and a newline
  const entries = [entry({ offset: 7, payload: Buffer.from('{"text":"café ☕"}') }), entry({ offset: 8, payload: odd })]
  const { entries: back, bad } = decodeArchiveBatch('tn', encodeArchiveBatch(entries))
  t.equal(bad, 0)
  t.same(
    back.map((e) => [e.offset, e.payload.toString('hex')]),
    entries.map((e) => [e.offset, e.payload.toString('hex')]),
  )
  t.same(back[0]?.metadata, { 'message-id': 'm' })
})

t.test('lines that are not entries are counted and skipped', async (t) => {
  const good = encodeArchiveBatch([entry({ offset: 1 })])
  const body = Buffer.concat([good, Buffer.from('not json\n{"receivedAtMs":"x"}\n'), good])
  const { entries, bad } = decodeArchiveBatch('tn', body)
  t.equal(entries.length, 2)
  t.equal(bad, 2)
})

t.test('one object per tenant, UTC day and partition, named after its first record', async (t) => {
  const objects = archiveObjects([
    entry({ partition: 1, offset: 11, receivedAtMs: at + 5 }),
    entry({ partition: 1, offset: 10, receivedAtMs: at + 9 }),
    entry({ partition: 2, offset: 3 }),
    entry({ tenantId: 'other', partition: 1, offset: 12 }),
    entry({ partition: 1, offset: 13, receivedAtMs: at + 86_400_000 }),
  ])
  const byKey = (a: [string, number], b: [string, number]): number => (a[0] < b[0] ? -1 : 1)
  const got = objects.map((o): [string, number] => [o.key, o.entries.length]).sort(byKey)
  const want: [string, number][] = [
    ['other/2026-11-26/' + String(at) + '-p1-o12-n1.ndjson', 1],
    ['tn/2026-11-26/' + String(at + 5) + '-p1-o10-n2.ndjson', 2],
    ['tn/2026-11-26/' + String(at) + '-p2-o3-n1.ndjson', 1],
    ['tn/2026-11-27/' + String(at + 86_400_000) + '-p1-o13-n1.ndjson', 1],
  ]
  t.same(got, want.sort(byKey))
})
