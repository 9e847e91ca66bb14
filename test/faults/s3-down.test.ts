import t from 'tap'
import { randomUUID } from 'node:crypto'
import type { GenesysReceived } from '../../src/fakes/fake-genesys.js'
import type { ArchivedWebhook } from '../../src/sinks/archive-reader.js'
import { waitArchived } from '../helpers/archive.js'
import { createObjectStore } from '../../src/sinks/object-store.js'
import { startHarness } from '../helpers/bridge-harness.js'
import { privateS3, S3_ACCESS_KEY, S3_SECRET_KEY } from '../helpers/private-servers.js'
import { checkDelivery, startTraffic } from '../helpers/fault-traffic.js'
import { BUCKETS } from '../../src/processors/object-keys.js'

interface Receipt {
  id: string
  status: string
  reasons?: { code: string; message: string }[]
}

t.test(
  'S3 stopped: text flows, media fails with a Failed receipt, the archive catches up once S3 is back',
  async (t) => {
    const s3 = await privateS3()
    t.teardown(() => s3.close())
    await s3.start()
    // MAX_ATTEMPTS: the fast dead letter of finding 3 (by default the media would wait for S3 up to RETRY_MAX_DURATION_MS).
    const h = await startHarness({ S3_ENDPOINT: s3.endpoint, MAX_ATTEMPTS: '3' })
    t.teardown(() => h.close())
    const store = createObjectStore({
      endpoint: s3.endpoint,
      accessKey: S3_ACCESS_KEY,
      secretKey: S3_SECRET_KEY,
      region: 'us-east-1',
      layout: h.config.s3.layout,
    })
    t.teardown(() => store.close())

    await s3.stop('kill')
    const stoppedAt = Date.now()
    const tr = startTraffic(h, { conversations: 10, perConversation: 10, pauseMs: 50, waPrefix: '44785' })
    const pdf = Buffer.from(`%PDF-1.4\n${randomUUID()}\n%%EOF`)
    const url = h.genesys.addDownload(pdf, 'application/pdf', { requireAuth: true, filename: 'quote.pdf' })
    const media = h.genesys.buildOutbound({
      integrationId: h.tenant.genesys.integrationId,
      conversationId: randomUUID(),
      toId: '447860000001',
      text: 'your quote',
      attachment: { url, mime: 'application/pdf', mediaType: 'File', filename: 'quote.pdf' },
    })
    t.equal((await h.postGenesys(media)).status, 200, 'a media webhook is acknowledged while S3 is down')
    const mediaId = (media as { id: string }).id

    const counts = await checkDelivery(t, h, tr, 30_000)
    t.ok(Date.now() > stoppedAt, `${counts.delivered} texts delivered while S3 was down`)
    const receipt = await h.genesys.waitFor(
      (r: GenesysReceived) => r.kind === 'receipt' && (r.body as Receipt).id === mediaId,
      30_000,
    )
    const body = receipt.body as Receipt
    t.equal(body.status, 'Failed', 'the media message ends with a Failed receipt (retries exhausted)')
    t.comment(`media receipt: ${JSON.stringify(body.reasons)}`)
    t.equal(
      h.meta.received.filter((r) => r.raw.includes('quote.pdf')).length,
      0,
      'the media message never reached Meta without its link',
    )
    const archivedWhileDown = Date.now()

    await s3.start()
    const expected = tr.total + 1
    // A flush whose puts partly failed is archived again whole: count each webhook once.
    const distinct = (ws: ArchivedWebhook[]): number => new Set(ws.map((w) => w.payload.toString('base64'))).size
    const found = await waitArchived(store, BUCKETS.webhooksOutbound, h.tenant.id, () => true, {
      atLeast: expected,
      timeoutMs: 40_000,
    })
    t.equal(distinct(found), expected, `archive caught up: ${distinct(found)} webhooks archived of ${expected}`)
    t.comment(`archive caught up ${Date.now() - archivedWhileDown} ms after S3 was back`)
  },
)
