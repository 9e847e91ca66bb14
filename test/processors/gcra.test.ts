import t from 'tap'
import { gcra } from '../../src/processors/gcra.js'

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
