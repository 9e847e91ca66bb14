import type { BenchResult } from './report.js'
import { lineChart, sideBySide } from './svg.js'

/**
 * The run's picture: latency on a log axis (ingest p50 of a few ms and an e2e p99 of seconds both
 * readable) beside throughput (what was offered, answered, accepted and delivered), so the rate
 * where delivery stops following the offer is seen next to the latency it costs.
 */
export function benchChart(r: BenchResult): string {
  const steps = r.steps
  const { medianMs, p99Ms } = r.settings.metaLatency
  const at = (f: (s: (typeof steps)[number]) => number): [number, number][] => steps.map((s) => [s.targetRate, f(s)])
  const latency = lineChart({
    title: `Latency vs offered rate (fake Meta ${medianMs}/${p99Ms} ms)`,
    xLabel: 'offered webhooks / s',
    yLabel: 'latency, ms (log scale)',
    yLog: true,
    series: [
      { name: 'end-to-end p99', color: '#d62728', points: at((s) => s.endToEndMs.p99) },
      { name: 'end-to-end p50', color: '#ff7f0e', points: at((s) => s.endToEndMs.p50) },
      { name: 'ingest p99', color: '#1f77b4', points: at((s) => s.ingestMs.p99) },
      { name: 'ingest p50', color: '#2ca02c', points: at((s) => s.ingestMs.p50) },
    ],
    refs: [{ y: 1500, label: 'e2e floor 1.5 s' }],
  })
  const throughput = lineChart({
    title: 'Throughput vs offered rate',
    xLabel: 'offered webhooks / s',
    yLabel: 'messages / s',
    series: [
      { name: 'offered (ideal)', color: '#999999', points: at((s) => s.targetRate) },
      { name: 'answered', color: '#9467bd', points: at((s) => s.achievedRate) },
      { name: 'accepted (200)', color: '#1f77b4', points: at((s) => s.acceptedRate) },
      { name: 'delivered to Meta', color: '#d62728', points: at((s) => s.deliveredRate) },
    ],
  })
  return sideBySide([latency, throughput])
}
