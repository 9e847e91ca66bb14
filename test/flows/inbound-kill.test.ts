import t from 'tap'
import { startHarness } from '../helpers/bridge-harness.js'
import { spawnBridge } from '../helpers/bridge-process.js'
import { checkInboundDelivery, startInboundTraffic } from '../helpers/inbound-traffic.js'

t.test('an inbound processor killed with SIGKILL mid-stream and restarted forwards each message once', async (t) => {
  // Ingest runs here; the inbound role runs in child processes of the same topics and group. A
  // short Genesys timeout keeps the claim lease (2x) short, so claims of the killed process are
  // taken over quickly.
  const h = await startHarness({ ROLES: 'ingest', GENESYS_TIMEOUT_MS: '3000' })
  t.teardown(() => h.close())
  const childEnv = { ...h.env, ROLES: 'inbound', HTTP_PORT: '0' }
  let worker = await spawnBridge(childEnv)
  t.teardown(() => worker.kill('SIGKILL'))

  const tr = startInboundTraffic(h, { customers: 30, perCustomer: 20, pauseMs: 10 })
  // Kill once a good part has gone through, while posts to Genesys are in flight.
  await h.genesys.waitForCount(200, (r) => r.kind === 'message' && r.status === 200 && tr.stored().includes(r), 60_000)
  t.equal(await worker.kill('SIGKILL'), 'SIGKILL')
  const atKill = tr.stored().length
  worker = await spawnBridge(childEnv)
  // A message Genesys stored while the process died before recording it is posted again after the
  // lease, with the same channel.messageId (the wamid). Whether Genesys deduplicates on it is
  // UNCONFIRMED (facts §5), so here it counts as a repeat: at most the one in flight per customer.
  await checkInboundDelivery(t, tr, 120_000, {
    todo: 'Genesys-side dedup on channel.messageId is UNCONFIRMED; no lookup settles an unrecorded post',
    max: 30,
  })
  t.ok(atKill < tr.total, `killed mid-stream (${atKill} of ${tr.total} stored at the kill)`)
})
