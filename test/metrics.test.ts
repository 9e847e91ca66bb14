import t from 'tap'
import { createMetrics } from '../src/metrics.js'

const valueOf = async (m: ReturnType<typeof createMetrics>, name: string, label = ''): Promise<number | undefined> => {
  const line = (await m.registry.metrics()).split('\n').find((l) => l.startsWith(`${name}${label} `))
  return line === undefined ? undefined : Number(line.split(' ').pop())
}

t.test('cache lookups come from the caches totals; send-rate fallbacks keep counting across scrapes', async (t) => {
  const m = createMetrics()
  let hits = 3
  m.watchCache('directory', () => ({ hits, misses: 1 }))
  m.sendRateFallbacks.inc()
  t.equal(await valueOf(m, 'gwb_cache_lookups_total', '{cache="directory",result="hit"}'), 3)
  hits = 5
  m.sendRateFallbacks.inc()
  t.equal(await valueOf(m, 'gwb_cache_lookups_total', '{cache="directory",result="hit"}'), 5, 'read again, not added')
  t.equal(await valueOf(m, 'gwb_send_rate_fallbacks_total'), 2, 'both fallbacks survive the scrapes')
})

t.test("Node's default metrics carry the gwb_ prefix once: gwb_process_…, gwb_nodejs_…", async (t) => {
  const text = await createMetrics().registry.metrics()
  t.match(text, /^gwb_process_cpu_seconds_total /m)
  t.match(text, /^gwb_process_start_time_seconds /m)
  t.match(text, /^gwb_nodejs_eventloop_lag_p99_seconds /m)
  t.notMatch(text, /gwb_process_process_|gwb_process_nodejs_/, 'no doubled prefix')
})
