import t from 'tap'
import {
  ALL_BUCKETS,
  archiveBatchKey,
  archiveKey,
  extensionForMime,
  mediaKey,
  parseArchiveName,
  safeSegment,
  utcDay,
} from '../../src/processors/object-keys.js'

const at = new Date('2026-03-04T23:59:58.123Z')

t.test('bucket names', async (t) => {
  t.same([...ALL_BUCKETS].sort(), ['media-inbound', 'media-outbound', 'webhooks-inbound', 'webhooks-outbound'])
})

t.test('archive key layout, UTC day and epoch-ms timestamp', async (t) => {
  t.equal(
    archiveKey({ tenantId: 't-1', conversationId: 'c0ffee-42', receivedAt: at }),
    't-1/2026-03-04/1772668798123-c0ffee-42.json',
  )
  t.equal(
    archiveKey({ tenantId: 't-1', conversationId: 'c1', receivedAt: at, discriminator: '7-1234' }),
    't-1/2026-03-04/1772668798123-c1-7-1234.json',
  )
  // 23:30 in UTC-5 is already the next day in UTC: the key follows UTC.
  t.equal(utcDay(new Date('2026-12-31T23:30:00-05:00')), '2027-01-01')
  t.throws(() => archiveKey({ tenantId: 't', conversationId: 'c', receivedAt: new Date('nope') }), RangeError)
})

t.test('hostile ids cannot add or climb path segments', async (t) => {
  t.equal(safeSegment('..'), '__')
  t.equal(safeSegment('.'), '_')
  t.equal(safeSegment(''), '_')
  t.equal(safeSegment('a/../b'), 'a____b')
  t.equal(safeSegment('a\\b'), 'a_b')
  t.equal(safeSegment('x'.repeat(500)).length, 128)
  const key = archiveKey({ tenantId: '../../etc', conversationId: '../passwd', receivedAt: at })
  t.equal(key, '______etc/2026-03-04/1772668798123-___passwd.json')
  const segments = key.split('/')
  t.equal(segments.length, 3, 'exactly tenant/day/file')
  t.notOk(
    segments.some((s) => s === '.' || s === '..' || s === ''),
    'no dot or empty segments',
  )
  const media = mediaKey({ tenantId: '..', mediaType: 'image/../x', mimeType: 'image/png', at, id: '../u' })
  t.equal(media, '__/image____x/2026-03-04/___u.png')
})

t.test('media key layout and extension from MIME type', async (t) => {
  t.equal(
    mediaKey({
      tenantId: 'tenant-a',
      mediaType: 'document',
      mimeType: 'application/pdf',
      at,
      id: '0b6f3c1e-1f1a-4c1e-9d55-6f5f1c2b9a10',
    }),
    'tenant-a/document/2026-03-04/0b6f3c1e-1f1a-4c1e-9d55-6f5f1c2b9a10.pdf',
  )
  t.match(
    mediaKey({ tenantId: 't', mediaType: 'image', mimeType: 'image/jpeg', at }),
    /^t\/image\/2026-03-04\/[0-9a-f-]{36}\.jpg$/,
    'random uuid by default',
  )
  const cases: [string, string][] = [
    ['application/pdf', 'pdf'],
    ['image/jpeg', 'jpg'],
    ['IMAGE/JPEG', 'jpg'],
    ['image/png', 'png'],
    ['image/gif', 'gif'],
    ['video/mp4', 'mp4'],
    ['audio/ogg; codecs=opus', 'ogg'],
    ['audio/mpeg', 'mp3'],
    ['image/webp', 'webp'],
    ['application/vnd.ms-excel', 'xls'],
    ['', 'bin'],
    ['garbage', 'bin'],
  ]
  for (const [mime, ext] of cases) t.equal(extensionForMime(mime), ext, mime)
})

t.test('archive batch keys: tenant and day prefix, earliest time first; names parse back', async (t) => {
  const key = archiveBatchKey({
    tenantId: '../evil',
    receivedAt: new Date('2026-11-26T23:59:59.999Z'),
    partition: 3,
    firstOffset: 120,
    count: 40,
  })
  t.equal(key, '___evil/2026-11-26/1795737599999-p3-o120-n40.ndjson')
  t.same(parseArchiveName('1795737599999-p3-o120-n40.ndjson'), { ms: 1795737599999, batch: true })
  t.same(parseArchiveName('1795737599999-conv-3-120.json'), { ms: 1795737599999, batch: false })
  t.equal(parseArchiveName('notes.txt'), undefined)
  t.throws(() => archiveBatchKey({ tenantId: 't', receivedAt: new Date(NaN), partition: 0, firstOffset: 0, count: 1 }))
})
