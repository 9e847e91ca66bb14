import t from 'tap'
import { FaultQueue, RateLimiter, sampleLatencyMs } from '../../src/fakes/fault-plan.js'

/** Small deterministic PRNG (mulberry32) so the distribution check cannot flake. */
function seeded(seed: number): () => number {
  let a = seed
  return () => {
    a = (a + 0x6d2b79f5) | 0
    let x = Math.imul(a ^ (a >>> 15), 1 | a)
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

t.test('log-normal latency hits the configured median and p99', async (t) => {
  const rnd = seeded(42)
  const xs = Array.from({ length: 20_000 }, () => sampleLatencyMs({ medianMs: 40, p99Ms: 250 }, rnd)).sort(
    (a, b) => a - b,
  )
  const q = (p: number): number => xs[Math.floor(p * (xs.length - 1))] ?? NaN
  t.ok(Math.abs(q(0.5) - 40) < 3, `median ${q(0.5)}`)
  t.ok(Math.abs(q(0.99) - 250) < 30, `p99 ${q(0.99)}`)
  t.ok(xs.every((x) => x > 0))
})

t.test('fixed latency forms', async (t) => {
  t.equal(sampleLatencyMs(undefined), 0)
  t.equal(sampleLatencyMs(15), 15)
  t.equal(sampleLatencyMs({ fixedMs: 7 }), 7)
})

t.test('failNext-style queue fails exactly n matching requests, in order', async (t) => {
  const q = new FaultQueue<string, { to: string }>()
  q.add(2, 'only-bob', (c) => c.to === 'bob')
  q.add(1, 'anyone')
  t.equal(q.take({ to: 'alice' }), 'anyone')
  t.equal(q.take({ to: 'alice' }), undefined)
  t.equal(q.take({ to: 'bob' }), 'only-bob')
  t.equal(q.take({ to: 'bob' }), 'only-bob')
  t.equal(q.take({ to: 'bob' }), undefined)
  t.equal(q.pending, 0)
})

t.test('rate limiter allows a burst, then refills at its rate', async (t) => {
  const r = new RateLimiter(2, 1) // burst 2, 1 per second
  t.equal(r.hit('k', 0), 0)
  t.equal(r.hit('k', 0), 0)
  t.equal(r.hit('k', 0), 1000, 'third in the same instant must wait a full second')
  t.equal(r.hit('other', 0), 0, 'keys are independent')
  t.equal(r.hit('k', 1000), 0, 'one token back after a second')
  t.ok(r.hit('k', 1000) > 0)
})
