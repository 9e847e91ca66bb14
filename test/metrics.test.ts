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
