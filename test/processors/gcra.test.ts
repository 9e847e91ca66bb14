import t from 'tap'
import { gcra, gcraTake } from '../../src/processors/gcra.js'

t.test('a burst is allowed at once, then one send per interval', async (t) => {
  let tat: number | undefined
  const sends: number[] = []
  // 10/s with a burst of 3, asked every millisecond for 1 s.
  for (let now = 0; now < 1000; now++) {
    const r = gcra(tat, now, 10, 3)
    if (r.waitMs === 0) {
      tat = r.newTatMs
      sends.push(now)
    }
  }
  t.same(sends.slice(0, 3), [0, 1, 2], 'the burst of 3 goes at once')
  t.equal(sends.length, 3 + 9, 'then 10/s: 9 more in the rest of the second')
  for (let i = 4; i < sends.length; i++) t.equal((sends[i] as number) - (sends[i - 1] as number), 100)
})

t.test('the wait returned is exactly until the next send is allowed', async (t) => {
  const first = gcra(undefined, 1000, 2, 1)
  t.equal(first.waitMs, 0)
  const second = gcra(first.newTatMs, 1000, 2, 1)
  t.equal(second.waitMs, 500)
  t.equal(gcra(first.newTatMs, 1500, 2, 1).waitMs, 0)
})

t.test('taking several at once grants what asking one by one at that instant would', async (t) => {
  for (const [rate, burst, want] of [
    [10, 3, 5],
    [80, 80, 32],
    [3, 1, 4],
    [1000, 50, 7],
  ] as const) {
    let tat: number | undefined
    let oneByOne = 0
    for (let i = 0; i < want; i++) {
      const r = gcra(tat, 5000, rate, burst)
      if (r.waitMs > 0) break
      tat = r.newTatMs
      oneByOne++
    }
    const batch = gcraTake(undefined, 5000, rate, burst, want)
    t.equal(batch.granted, oneByOne, `rate ${rate}, burst ${burst}, ${want} wanted`)
    t.equal(batch.newTatMs, tat ?? 5000)
  }
  const spent = gcraTake(undefined, 0, 10, 3, 3)
  t.same(
    gcraTake(spent.newTatMs, 0, 10, 3, 2),
    { granted: 0, waitMs: 100, newTatMs: spent.newTatMs },
    'empty: the wait',
  )
  t.equal(gcraTake(spent.newTatMs, 100, 10, 3, 2).granted, 1, 'one interval later, one more')
})
