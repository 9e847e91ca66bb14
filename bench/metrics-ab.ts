import { Histogram, Registry } from 'prom-client'

/**
 * What one histogram observation costs the bridge, the ways the flows could record a stage: the
 * labelled startTimer they use, observe with labels, and a child bound to its labels once
 * (`labels()`), which prom-client 15 still validates and hashes on every observation.
 *   node dist/bench/metrics-ab.js [ops per round, default 300000]
 */
const n = Number(process.argv[2] ?? 300_000)
const h = new Histogram({
  name: 'gwb_ab_seconds',
  help: 'A/B only',
  labelNames: ['flow', 'stage'],
  buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 1.5, 2.5, 5, 10, 30],
  registers: [new Registry()],
})
const stages = ['mapping', 'claim', 'rate', 'send', 'track', 'decode']
const bound = stages.map((stage) => h.labels({ flow: 'outbound', stage }))
const variants: [string, (i: number) => void][] = [
  ['startTimer(labels) (the flows today)', (i) => h.startTimer({ flow: 'outbound', stage: stages[i % 6] as string })()],
  ['observe(labels, v)', (i) => h.observe({ flow: 'outbound', stage: stages[i % 6] as string }, 0.004)],
  ['bound child: startTimer()', (i) => bound[i % 6]?.startTimer()()],
  ['bound child: observe(v)', (i) => bound[i % 6]?.observe(0.004)],
]
const ns = new Map<string, number[]>()
for (let round = 0; round < 5; round++) {
  for (const [name, f] of variants) {
    const c0 = process.cpuUsage()
    for (let i = 0; i < n; i++) f(i)
    const c = process.cpuUsage(c0)
    ns.set(name, [...(ns.get(name) ?? []), ((c.user + c.system) * 1000) / n])
  }
}
process.stdout.write('| way of recording a stage | CPU ns per observation (median of 5 rounds) |\n|---|---:|\n')
for (const [name, xs] of ns) process.stdout.write(`| ${name} | ${Math.round(xs.sort((x, y) => x - y)[2] ?? 0)} |\n`)
