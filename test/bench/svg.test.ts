import t from 'tap'
import { benchChart } from '../../bench/charts.js'
import type { BenchResult, StepResult } from '../../bench/report.js'
import { lineChart, logAxis, sideBySide } from '../../bench/svg.js'

/** The y coordinate of each circle drawn, in order. */
const circleYs = (svg: string): number[] =>
  [...svg.matchAll(/<circle cx="[\d.]+" cy="([\d.]+)"/g)].map((m) => Number(m[1]))

t.test('a log axis spans whole decades around the data, ticks at 1, 2 and 5', async (t) => {
  const a = logAxis(4.2, 1500)
  t.same(a.ticks, [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000])
  t.equal(a.at(1), 0)
  t.equal(a.at(10_000), 1)
  t.equal(a.at(100), 0.5, 'equal ratios, equal distances')
  t.same(logAxis(0.3, 90_000).ticks, [0.1, 1, 10, 100, 1000, 10000, 100000], 'only decades over many decades')
})

t.test('latency on a log axis: 5 ms and 50 ms are as far apart as 500 ms and 5 s', async (t) => {
  const svg = lineChart({
    title: 't',
    xLabel: 'x',
    yLabel: 'y',
    yLog: true,
    series: [
      {
        name: 's',
        color: '#000',
        points: [
          [1, 5],
          [2, 50],
          [3, 500],
          [4, 5000],
          [5, 0],
        ],
      },
    ],
  })
  const [y5, y50, y500, y5000, ...rest] = circleYs(svg)
  t.same(rest, [], 'a value of 0 has no place on a log axis and is left out')
  t.ok((y5 ?? 0) > (y50 ?? 0), 'higher latency is drawn higher')
  t.equal(Math.round((y5 ?? 0) - (y50 ?? 0)), Math.round((y500 ?? 0) - (y5000 ?? 0)))
  t.notMatch(svg, /NaN|Infinity/)
})

t.test('the bench chart puts throughput beside latency', async (t) => {
  const step = (rate: number, delivered: number, e2eP99: number): StepResult =>
    ({
      targetRate: rate,
      achievedRate: rate,
      acceptedRate: rate,
      deliveredRate: delivered,
      ingestMs: { p50: 4, p99: 20 },
      endToEndMs: { p50: 15, p99: e2eP99 },
    }) as unknown as StepResult
  const r = {
    settings: { metaLatency: { medianMs: 150, p99Ms: 600 } },
    steps: [step(500, 500, 40), step(2000, 1900, 140), step(3000, 1900, 9400)],
  } as unknown as BenchResult
  const svg = benchChart(r)
  t.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg" width="1440" height="400"/)
  t.match(
    svg,
    /<svg x="0" [^>]*>[\s\S]*Latency vs offered rate[\s\S]*<svg x="720" [^>]*>[\s\S]*Throughput vs offered rate/,
  )
  t.match(svg, /log scale/)
  t.match(svg, /delivered to Meta/)
  t.equal(svg.match(/<svg /g)?.length, 3, 'one outer picture, two charts')
})

t.test('side by side with nothing to place is an empty picture, not a broken one', async (t) => {
  t.match(sideBySide([]), /width="0" height="0"/)
})
