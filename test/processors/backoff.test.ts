import fc from 'fast-check'
import t from 'tap'
import { backoffDelay, pairLimitDelay } from '../../src/processors/backoff.js'

const opts = { baseMs: 500, maxMs: 30_000, jitter: 0 }

t.test('exponential without jitter', async (t) => {
  t.same(
    [1, 2, 3, 4, 10, 100].map((a) => backoffDelay(a, opts, () => 0.5)),
    [500, 1000, 2000, 4000, 30_000, 30_000],
  )
  t.equal(
    backoffDelay(0, opts, () => 0),
    500,
    'attempt below 1 counts as the first',
  )
  t.equal(
    backoffDelay(Number.NaN, opts, () => 0),
    500,
  )
  t.equal(
    backoffDelay(5000, opts, () => 0),
    30_000,
    'no overflow to Infinity',
  )
})

t.test('jitter takes off up to its share of the delay', async (t) => {
  t.equal(
    backoffDelay(3, { ...opts, jitter: 0.5 }, () => 0),
    2000,
  )
  t.equal(
    backoffDelay(3, { ...opts, jitter: 0.5 }, () => 1),
    1000,
  )
  t.equal(
    backoffDelay(3, { ...opts, jitter: 1 }, () => 0.25),
    1500,
  )
  t.equal(
    backoffDelay(3, { ...opts, jitter: 7 }, () => 2),
    0,
    'out-of-range jitter and random are clamped',
  )
})

t.test('Retry-After is a floor, even above maxMs', async (t) => {
  t.equal(
    backoffDelay(1, { ...opts, retryAfterMs: 3000 }, () => 0),
    3000,
  )
  t.equal(
    backoffDelay(4, { ...opts, retryAfterMs: 100 }, () => 0),
    4000,
  )
  t.equal(
    backoffDelay(1, { ...opts, retryAfterMs: 60_000 }, () => 0),
    60_000,
  )
})

t.test('property: delay within [exp·(1-jitter), exp] and never below Retry-After', async (t) => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 60 }),
      fc.integer({ min: 1, max: 10_000 }),
      fc.integer({ min: 1, max: 600_000 }),
      fc.double({ min: 0, max: 1, noNaN: true }),
      fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }),
      fc.option(fc.integer({ min: 0, max: 900_000 }), { nil: undefined }),
      (attempt, baseMs, maxMs, jitter, r, retryAfterMs) => {
        const d = backoffDelay(attempt, { baseMs, maxMs, jitter, retryAfterMs }, () => r)
        const exp = Math.min(maxMs, baseMs * 2 ** (attempt - 1))
        const lo = Math.max(Math.floor(exp * (1 - jitter)), retryAfterMs ?? 0)
        const hi = Math.max(exp, retryAfterMs ?? 0)
        return Number.isInteger(d) && d >= lo && d <= hi
      },
    ),
  )
  t.pass()
})

t.test('pair-limit delay: ~4^n s, at least the 6 s pair interval, capped', async (t) => {
  t.same(
    [1, 2, 3, 4, 5, 50].map((n) => pairLimitDelay(n)),
    [6000, 16_000, 64_000, 256_000, 300_000, 300_000],
  )
  t.equal(pairLimitDelay(0), 6000)
  t.equal(pairLimitDelay(3, 20_000), 20_000)
})
