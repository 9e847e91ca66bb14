import t from 'tap'
import { randomUUID } from 'node:crypto'
import { request } from 'undici'
import { deadLetterTopic } from '../../src/config/config.js'
import { inboundText } from '../../src/fakes/meta-webhooks.js'
import { createLogger } from '../../src/log.js'
import { startHarness, type Harness } from '../helpers/bridge-harness.js'
import type { tenantSpec } from '../helpers/tenants.js'

interface Sample {
  name: string
  labels: Record<string, string>
  value: number
}

/** Prometheus text format, enough of it for these series (no escaped quotes in our label values). */
function parseMetrics(text: string): Sample[] {
  const out: Sample[] = []
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (m === null) continue
    const labels: Record<string, string> = {}
    for (const l of (m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)) labels[l[1] as string] = l[2] as string
    out.push({ name: m[1] as string, labels, value: Number(m[3]) })
  }
  return out
}

async function scrape(h: Harness): Promise<Sample[]> {
  const res = await request(`${h.adminUrl}/metrics`)
  if (res.statusCode !== 200) throw new Error(`/metrics answered ${res.statusCode}`)
  return parseMetrics(await res.body.text())
}

/** Sum of the samples of `name` whose labels include `labels`. */
function sum(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((n, s) => n + s.value, 0)
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await fn()
    if (v !== undefined) return v
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 200))
  }
}

const secretsOf = (s: ReturnType<typeof tenantSpec>): string[] => [
  s.whatsapp.accessToken,
  s.whatsapp.appSecret,
  s.whatsapp.verifyToken,
  s.genesys.clientSecret,
  s.genesys.webhookSecret,
]

t.test('after traffic, /metrics has every listed series with counts equal to what was sent', async (t) => {
  // Every line the bridge logs, at debug, kafkajs included.
  const lines: string[] = []
  const log = createLogger('debug', { write: (line: string) => void lines.push(line) })
  const h = await startHarness({ MAX_ATTEMPTS: '2', RETRY_BASE_MS: '50', RETRY_MAX_MS: '100' }, { log })
  t.teardown(() => h.close())
  const topics = h.config.kafka.topics
  const prefix = h.config.kafka.groupPrefix
  const run = randomUUID().slice(0, 8)

  // Five outbound messages that Meta accepts, one that dead-letters (Meta 503 on every attempt).
  const ok = 5
  for (let i = 0; i < ok; i++) {
    const body = h.genesys.buildOutbound({
      integrationId: h.tenant.genesys.integrationId,
      conversationId: randomUUID(),
      toId: `4477009003${String(i).padStart(2, '0')}`,
      text: `${run} ok ${i}`,
    })
    t.equal((await h.postGenesys(body)).status, 200)
  }
  const downTo = '447700900399'
  h.meta.failNext(10, { status: 503 }, { to: downTo })
  const down = h.genesys.buildOutbound({
    integrationId: h.tenant.genesys.integrationId,
    conversationId: randomUUID(),
    toId: downTo,
    text: `${run} meta down`,
  })
  t.equal((await h.postGenesys(down)).status, 200)
  // One inbound message, so a Genesys call is made too.
  const from = '447700900398'
  const inbound = h.meta.buildWebhook({
    phoneNumberId: h.tenant.whatsapp.phoneNumberId,
    messages: [inboundText({ from, body: `${run} inbound` })],
  })
  t.equal((await h.postMeta(inbound)).status, 200)

  // Refusals, where a secret-derived value is at hand: wrong signatures, a wrong verify token.
  t.equal((await h.postGenesys(down, { signature: 'sha256=AAAA' })).status, 401)
  t.equal((await h.postMeta(inbound, { signature: 'sha256=00' })).status, 401)
  t.equal((await h.getMeta('hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1')).status, 403)

  await h.meta.waitForCount(ok, (r) => r.status === 200 && r.raw.includes(run), 20_000)
  await h.genesys.waitFor((r) => r.kind === 'message' && r.raw.includes(`${run} inbound`), 20_000)
  const dlq = deadLetterTopic(topics.genesysOutbound)

  // Counters settle once the dead letter is produced and every offset is committed (lag 0). The lag
  // monitor reports a group once it has read that group's offsets: wait for every group's round.
  const outboundGroup = `${prefix}outbound`
  const groups = ['outbound', 'inbound', 'status', 'archive-outbound'].map((g) => `${prefix}${g}`)
  const m = await until('dead letter counted, lag 0 on every partition, every group reported', async () => {
    const s = await scrape(h)
    const lagOf = (group: string) =>
      s.filter((x) => x.name === 'gwb_consumer_lag_records' && x.labels['group'] === group)
    const lag = lagOf(outboundGroup)
    const settled =
      sum(s, 'gwb_dead_letters_total') === 1 &&
      lag.length === h.config.kafka.partitions &&
      lag.every((x) => x.value === 0) &&
      groups.every((g) => lagOf(g).length > 0) &&
      sum(s, 'gwb_records_in_flight') === 0
    return settled ? s : undefined
  })

  t.test('requests and latency per route', async (t) => {
    t.equal(sum(m, 'gwb_http_requests_total', { route: 'genesys_webhook', status: '200' }), ok + 1)
    t.equal(sum(m, 'gwb_http_requests_total', { route: 'meta_webhook', status: '200' }), 1)
    t.equal(sum(m, 'gwb_http_requests_total', { route: 'genesys_webhook', status: '401' }), 1)
    t.equal(sum(m, 'gwb_http_request_duration_seconds_count', { route: 'genesys_webhook' }), ok + 2, 'the 401 too')
    t.ok(sum(m, 'gwb_http_request_duration_seconds_sum', { route: 'genesys_webhook' }) > 0)
  })

  t.test('produce latency', async (t) => {
    t.ok(sum(m, 'gwb_kafka_produce_duration_seconds_count') > 0)
    t.ok(sum(m, 'gwb_kafka_produce_duration_seconds_sum') > 0)
  })

  t.test('end to end, receipt to the platform answer', async (t) => {
    t.equal(sum(m, 'gwb_end_to_end_seconds_count', { flow: 'outbound' }), ok)
    t.ok(sum(m, 'gwb_end_to_end_seconds_sum', { flow: 'outbound' }) > 0)
    t.equal(sum(m, 'gwb_end_to_end_seconds_count', { flow: 'inbound' }), 1)
  })

  t.test('external calls by target, operation and status', async (t) => {
    const meta = { target: 'meta', operation: 'send' }
    t.equal(sum(m, 'gwb_external_request_duration_seconds_count', { ...meta, status: '200' }), ok)
    t.equal(sum(m, 'gwb_external_request_duration_seconds_count', { ...meta, status: '503' }), 2, 'MAX_ATTEMPTS')
    t.ok(sum(m, 'gwb_external_request_duration_seconds_sum', { ...meta, status: '200' }) > 0)
    t.ok(
      sum(m, 'gwb_external_request_duration_seconds_count', {
        target: 'genesys',
        operation: 'message',
        status: '200',
      }) >= 1,
    )
  })

  t.test('records, retries and dead letters', async (t) => {
    t.equal(sum(m, 'gwb_records_total', { flow: 'outbound', outcome: 'ok' }), ok)
    t.equal(sum(m, 'gwb_records_total', { flow: 'outbound', outcome: 'dead-letter' }), 1)
    t.equal(sum(m, 'gwb_retries_total', { flow: 'outbound', code: 'GWB_META_TRANSIENT' }), 2)
    t.equal(sum(m, 'gwb_dead_letters_total', { topic: dlq, code: 'GWB_META_TRANSIENT' }), 1)
  })

  t.test('consumer lag per partition of each group', async (t) => {
    for (const [group, topic] of [
      [outboundGroup, topics.genesysOutbound],
      [`${prefix}inbound`, topics.whatsappInbound],
      [`${prefix}status`, topics.whatsappStatus],
      [`${prefix}archive-outbound`, topics.genesysOutbound],
    ] as const) {
      const partitions = m
        .filter((x) => x.name === 'gwb_consumer_lag_records' && x.labels['group'] === group)
        .map((x) => {
          t.equal(x.labels['topic'], topic)
          return Number(x.labels['partition'])
        })
        .sort((a, b) => a - b)
      t.same(partitions, [0, 1, 2, 3], `${group}: one series per partition`)
    }
  })

  t.test('cache lookups', async (t) => {
    const hits = sum(m, 'gwb_cache_lookups_total', { cache: 'redis', result: 'hit' })
    const misses = sum(m, 'gwb_cache_lookups_total', { cache: 'redis', result: 'miss' })
    t.ok(hits + misses > 0, `redis looked up (${hits} hits, ${misses} misses)`)
    // Counters only grow between scrapes.
    const again = await scrape(h)
    t.ok(sum(again, 'gwb_cache_lookups_total', { cache: 'redis', result: 'hit' }) >= hits)
  })

  t.test("no tenant secret in the bridge's log lines", async (t) => {
    // An object carrying the whole tenant, logged by mistake, is redacted too.
    log.debug({ tenant: h.tenant }, 'a tenant logged by mistake')
    log.flush()
    t.ok(
      lines.some((l) => l.includes('"level":20')),
      'debug lines captured',
    )
    t.ok(lines.length > 3, `${lines.length} lines captured`)
    t.ok(
      lines.some((l) => l.includes('a tenant logged by mistake') && l.includes('[redacted]')),
      'redacted',
    )
    const all = lines.join('')
    for (const s of secretsOf(h.tenant)) t.notOk(all.includes(s), 'a secret of the tenant is not in the logs')
  })
})

t.test('an outbound-only process still serves /health, /ready and /metrics on its admin port', async (t) => {
  const h = await startHarness({ ROLES: 'outbound' })
  t.teardown(() => h.close())
  const get = async (path: string, base = h.adminUrl) => {
    const res = await request(`${base}${path}`)
    return { status: res.statusCode, body: await res.body.text() }
  }
  const health = await get('/health')
  t.equal(health.status, 200)
  t.match(JSON.parse(health.body), { status: 'ok', roles: ['outbound'] })
  t.equal((await get('/health', h.url)).status, 200, '/health on the public port too')
  t.equal((await get('/metrics', h.url)).status, 404, 'no /metrics on the public port')
  const ready = await get('/ready')
  t.equal(ready.status, 200, ready.body)
  t.match(JSON.parse(ready.body), {
    status: 'ready',
    roles: ['outbound'],
    checks: { kafka: 'ok', registry: 'ok', postgres: 'ok' },
  })
  const metrics = await get('/metrics')
  t.equal(metrics.status, 200)
  const group = `${h.config.kafka.groupPrefix}outbound`
  const lag = await until('lag series of the outbound group', async () => {
    const s = (await scrape(h)).filter((x) => x.name === 'gwb_consumer_lag_records')
    return s.length > 0 ? s : undefined
  })
  t.ok(
    lag.every((x) => x.labels['group'] === group),
    'only its own group',
  )
  t.equal(lag.length, h.config.kafka.partitions)
  t.equal((await h.postGenesys({})).status, 404, 'no ingest route in this process')
})
