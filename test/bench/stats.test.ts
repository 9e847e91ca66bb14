import t from 'tap'
import {
  benchText,
  checkDelivery,
  parseBenchText,
  percentile,
  percentileSorted,
  roundSummary,
  stepHolds,
  summarize,
} from '../../bench/stats.js'

t.test('nearest-rank percentiles on literals', async (t) => {
  const ten = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]
  // rank = ceil(p/100 · n): p50 of 10 → rank 5, p95 → rank 10 (ceil 9.5), p99 → rank 10, p0 → rank 1
  t.equal(percentileSorted(ten, 50), 50)
  t.equal(percentileSorted(ten, 90), 90)
  t.equal(percentileSorted(ten, 91), 100)
  t.equal(percentileSorted(ten, 95), 100)
  t.equal(percentileSorted(ten, 0), 10)
  t.equal(percentileSorted(ten, 100), 100)
  // unsorted input, not mutated
  const shuffled = [5, 1, 4, 2, 3]
  t.equal(percentile(shuffled, 50), 3)
  t.equal(percentile(shuffled, 20), 1)
  t.equal(percentile(shuffled, 21), 2)
  t.same(shuffled, [5, 1, 4, 2, 3])
  // 1..100: pN is exactly N
  const hundred = Array.from({ length: 100 }, (_, i) => i + 1)
  t.equal(percentile(hundred, 99), 99)
  t.equal(percentile(hundred, 95), 95)
  t.equal(percentile(hundred, 99.9), 100)
  // 1..1000: p99 is 990, p99.9 is 999
  const thousand = Array.from({ length: 1000 }, (_, i) => 1000 - i)
  t.equal(percentile(thousand, 99), 990)
  t.equal(percentile(thousand, 99.9), 999)
  t.ok(Number.isNaN(percentile([], 50)))
  t.equal(percentile([7], 99), 7)
  t.throws(() => percentile([1], 101))
  t.throws(() => percentile([1], -1))
})

t.test('summarize', async (t) => {
  const s = summarize([3, 1, 2, 10, 4])
  t.same(s, { count: 5, min: 1, mean: 4, p50: 3, p95: 10, p99: 10, max: 10 })
  const e = summarize([])
  t.equal(e.count, 0)
  t.ok(Number.isNaN(e.p99))
  t.same(roundSummary({ count: 2, min: 1.234, mean: 2.25, p50: 1.25, p95: 3.26, p99: 3.26, max: 3.26 }), {
    count: 2,
    min: 1.2,
    mean: 2.3,
    p50: 1.3,
    p95: 3.3,
    p99: 3.3,
    max: 3.3,
  })
})

t.test('delivery: clean run', async (t) => {
  const sent = [
    { conversation: 'a', seq: 1, sentAtMs: 1000 },
    { conversation: 'a', seq: 2, sentAtMs: 1010 },
    { conversation: 'b', seq: 1, sentAtMs: 1005 },
  ]
  const delivered = [
    { conversation: 'a', seq: 1, arrivedAtMs: 1100 },
    { conversation: 'b', seq: 1, arrivedAtMs: 1050 },
    { conversation: 'a', seq: 2, arrivedAtMs: 1300 },
  ]
  const r = checkDelivery(sent, delivered)
  t.same(r, {
    sent: 3,
    delivered: 3,
    lost: 0,
    duplicated: 0,
    outOfOrder: 0,
    unacknowledged: 0,
    endToEndMs: [100, 45, 290],
  })
})

t.test('delivery: loss, duplicates, reordering, unacknowledged, across windows', async (t) => {
  const last = new Map<string, number>([['a', 3]])
  const sent = [
    { conversation: 'a', seq: 4, sentAtMs: 0 },
    { conversation: 'a', seq: 5, sentAtMs: 0 },
    { conversation: 'a', seq: 6, sentAtMs: 0 },
    { conversation: 'b', seq: 1, sentAtMs: 0 },
    { conversation: 'b', seq: 2, sentAtMs: 0 },
  ]
  const delivered = [
    { conversation: 'a', seq: 5, arrivedAtMs: 10 },
    { conversation: 'a', seq: 4, arrivedAtMs: 20 }, // after 5: out of order
    { conversation: 'a', seq: 5, arrivedAtMs: 30 }, // duplicate
    { conversation: 'b', seq: 2, arrivedAtMs: 40 },
    { conversation: 'a', seq: 2, arrivedAtMs: 50 }, // below the previous window's 3: out of order, unacknowledged here
    { conversation: 'c', seq: 1, arrivedAtMs: 60 }, // never acknowledged
  ]
  const r = checkDelivery(sent, delivered, last)
  t.equal(r.sent, 5)
  t.equal(r.delivered, 3)
  t.equal(r.lost, 2) // a6, b1
  t.equal(r.duplicated, 1)
  t.equal(r.outOfOrder, 2)
  t.equal(r.unacknowledged, 2)
  t.same(r.endToEndMs, [10, 20, 40])
  t.equal(last.get('a'), 5)
  t.equal(last.get('b'), 2)
  t.equal(last.get('c'), 1)
})

t.test('bench text round trip', async (t) => {
  const s = benchText('r1-c17', 42, 1_700_000_000_123.4)
  t.equal(s, 'bench r1-c17 42 1700000000123')
  t.same(parseBenchText(s), { conversation: 'r1-c17', seq: 42, sentAtMs: 1_700_000_000_123 })
  t.equal(parseBenchText('hello'), undefined)
})

t.test('step verdict', async (t) => {
  const good = { targetRate: 500, achievedRate: 499, errors: 0, lost: 0, duplicated: 0, outOfOrder: 0, e2eP99Ms: 80 }
  t.same(stepHolds(good), { ok: true, why: [] })
  t.equal(stepHolds({ ...good, achievedRate: 400 }).ok, false)
  t.equal(stepHolds({ ...good, lost: 1 }).ok, false)
  t.equal(stepHolds({ ...good, e2eP99Ms: 1500 }).ok, false)
  t.equal(stepHolds({ ...good, e2eP99Ms: NaN }).ok, false)
})
