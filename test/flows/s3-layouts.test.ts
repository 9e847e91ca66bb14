import { randomUUID } from 'node:crypto'
import t from 'tap'
import { BUCKETS } from '../../src/processors/object-keys.js'
import { createObjectStore } from '../../src/sinks/object-store.js'
import { waitArchived } from '../helpers/archive.js'
import { startHarness, type Harness } from '../helpers/bridge-harness.js'
import { testConfig } from '../helpers/stack.js'

/**
 * Two installations on one S3 server, as two teams (or staging and production) share an AWS account:
 * one gives its buckets a prefix of its own, the other keeps everything in one bucket under a key
 * prefix. Each archives and serves media from its own place and never sees the other's objects.
 */
const run = randomUUID().slice(0, 8)
const layouts = {
  prefixed: { S3_BUCKET_PREFIX: `gwb-${run}-a-` },
  // The suite's default bucket prefix (testEnv) is replaced: one bucket is the other layout.
  oneBucket: { S3_BUCKET: `gwb-${run}-shared`, S3_KEY_PREFIX: 'team-b/prod', S3_BUCKET_PREFIX: '' },
}

async function archiveOne(h: Harness, text: string): Promise<void> {
  const conversationId = randomUUID()
  const body = h.genesys.buildOutbound({
    integrationId: h.tenant.genesys.integrationId,
    conversationId,
    toId: '447700900123',
    text,
  })
  const res = await h.postGenesys(body)
  if (res.status !== 200) throw new Error(`ingest answered ${res.status}: ${res.body}`)
  await waitArchived(h.bridge.resources.store, BUCKETS.webhooksOutbound, h.tenant.id, (w) =>
    w.payload.toString().includes(conversationId),
  )
}

t.test('two installations with different bucket layouts share one S3 server', async (t) => {
  const a = await startHarness(layouts.prefixed)
  t.teardown(() => a.close())
  const b = await startHarness(layouts.oneBucket)
  t.teardown(() => b.close())

  await archiveOne(a, `from A ${randomUUID()}`)
  await archiveOne(b, `from B ${randomUUID()}`)

  const everything = async (h: Harness) =>
    (await h.bridge.resources.store.listObjects(BUCKETS.webhooksOutbound, '')).map((o) => o.key)
  const seenByA = await everything(a)
  const seenByB = await everything(b)
  t.ok(seenByA.length > 0 && seenByA.every((k) => k.startsWith(`${a.tenant.id}/`)), 'A lists only its own archive')
  t.ok(seenByB.length > 0 && seenByB.every((k) => k.startsWith(`${b.tenant.id}/`)), 'B lists only its own archive')

  // Where the objects really are, seen by a plain client of the same server.
  const raw = createObjectStore({ ...testConfig().s3, layout: { kind: 'buckets', bucketPrefix: '' } })
  t.teardown(() => raw.close())
  const inA = await raw.listObjects(`gwb-${run}-a-webhooks-outbound`, '')
  t.ok(
    inA.some((o) => o.key.startsWith(`${a.tenant.id}/`)),
    "A's archive is in A's own bucket",
  )
  const inShared = (await raw.listObjects(`gwb-${run}-shared`, '')).map((o) => o.key)
  t.ok(inShared.length > 0, "B's archive is in B's bucket")
  t.ok(
    inShared.every((k) => k.startsWith('team-b/prod/')),
    "B's objects all sit under its key prefix",
  )

  t.test("B's media links are presigned for B's bucket and prefix, and download", async (t) => {
    const pdf = Buffer.from(`%PDF-1.4\n${randomUUID().repeat(50)}\n%%EOF`)
    const url = b.genesys.addDownload(pdf, 'application/pdf', { requireAuth: true, filename: 'layout.pdf' })
    const body = b.genesys.buildOutbound({
      integrationId: b.tenant.genesys.integrationId,
      conversationId: randomUUID(),
      toId: '447700900123',
      text: 'your document',
      attachment: { url, mime: 'application/pdf', mediaType: 'File', filename: 'layout.pdf' },
    })
    t.equal((await b.postGenesys(body)).status, 200)
    const got = await b.meta.waitFor((r) => r.status === 200 && r.raw.includes('layout.pdf'), 30_000)
    const link = (got.body as { document: { link: string } }).document.link
    t.match(link, new RegExp(`/gwb-${run}-shared/team-b/prod/media-outbound/`), 'the link names the bucket and prefix')
    for (let i = 0; i < 100 && got.linkStatus === undefined; i++) await new Promise((r) => setTimeout(r, 100))
    t.equal(got.linkStatus, 200, 'the fake Meta downloaded it')
    t.ok(got.linkBody?.equals(pdf), 'the same bytes')
  })
})
