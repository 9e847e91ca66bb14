import t from 'tap'
import {
  diffHistograms,
  histogramQuantile,
  mergeHistograms,
  parseHistograms,
  readGauge,
  stageLatencies,
} from '../../bench/prom-histograms.js'

const scrape = (counts: [number, number, number, number], sum: number): string =>
  [
    '# HELP gwb_stage_duration_seconds Time per processing stage',
    '# TYPE gwb_stage_duration_seconds histogram',
    `gwb_stage_duration_seconds_bucket{le="0.01",flow="outbound",stage="claim"} ${counts[0]}`,
    `gwb_stage_duration_seconds_bucket{le="0.1",flow="outbound",stage="claim"} ${counts[1]}`,
    `gwb_stage_duration_seconds_bucket{le="1",flow="outbound",stage="claim"} ${counts[2]}`,
    `gwb_stage_duration_seconds_bucket{le="+Inf",flow="outbound",stage="claim"} ${counts[3]}`,
    `gwb_stage_duration_seconds_sum{flow="outbound",stage="claim"} ${sum}`,
    `gwb_stage_duration_seconds_count{flow="outbound",stage="claim"} ${counts[3]}`,
    'gwb_records_total{flow="outbound",outcome="ok"} 12',
  ].join('\n')

const key = 'gwb_stage_duration_seconds{flow="outbound",stage="claim"}'

t.test('parses buckets per series, without le in the key', async (t) => {
  const h = parseHistograms(scrape([1, 3, 4, 4], 0.5), 'gwb_stage')
  t.same([...h.keys()], [key])
  t.same(h.get(key), { bounds: [0.01, 0.1, 1, Infinity], counts: [1, 3, 4, 4], sum: 0.5 })
})

t.test('quantiles interpolate inside the bucket, as histogram_quantile does', async (t) => {
  const h = { bounds: [0.01, 0.1, 1, Infinity], counts: [10, 60, 100, 100], sum: 0 }
  // rank 50 of 100: bucket (0.01, 0.1] holds ranks 11..60 → 0.01 + 0.09 × (50 − 10) / 50
  t.equal(Math.round((histogramQuantile(0.5, h) ?? 0) * 1e6) / 1e6, 0.082)
  // rank 5 in the first bucket, which starts at 0
  t.equal(histogramQuantile(0.05, h), 0.005)
  // rank 99: (0.1, 1] holds 61..100 → 0.1 + 0.9 × 39 / 40
  t.equal(Math.round((histogramQuantile(0.99, h) ?? 0) * 1e6) / 1e6, 0.9775)
  const tail = { bounds: [0.01, 0.1, Infinity], counts: [1, 1, 2], sum: 0 }
  t.equal(histogramQuantile(0.99, tail), 0.1, 'a rank in +Inf answers the highest finite bound')
  t.equal(histogramQuantile(0.5, { bounds: [1, Infinity], counts: [0, 0], sum: 0 }), undefined, 'nothing seen')
})

t.test('the window is the difference of two scrapes; processes add up', async (t) => {
  const before = parseHistograms(scrape([1, 3, 4, 4], 0.5))
  const after = parseHistograms(scrape([2, 13, 14, 14], 1.5))
  const w = diffHistograms(before, after)
  t.same(w.get(key), { bounds: [0.01, 0.1, 1, Infinity], counts: [1, 10, 10, 10], sum: 1 })
  const both = mergeHistograms([w, w])
  t.same(both.get(key)?.counts, [2, 20, 20, 20])
  const [row] = stageLatencies(both)
  // p50: rank 10 in (0.01, 0.1], which holds ranks 3..20 → 10 + 90 × 8 / 18 = 50 ms; p99: rank 19.8 → 99 ms
  t.same(row, { series: key, count: 20, meanMs: 100, p50Ms: 50, p99Ms: 99 })
  t.same(stageLatencies(diffHistograms(after, after)), [], 'a window with no samples has no row')
})

t.test('reads an unlabelled gauge', async (t) => {
  const text = 'gwb_nodejs_eventloop_lag_p99_seconds 0.0213\ngwb_nodejs_eventloop_lag_p50_seconds 0.011'
  t.equal(readGauge(text, 'gwb_nodejs_eventloop_lag_p99_seconds'), 0.0213)
  t.equal(readGauge(text, 'gwb_nodejs_eventloop_lag'), undefined, 'a name is matched whole')
})
