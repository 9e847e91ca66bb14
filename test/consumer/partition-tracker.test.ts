import t from 'tap'
import fc from 'fast-check'
import { PartitionTracker } from '../../src/consumer/partition-tracker.js'

t.test('commits only the contiguous prefix of finished offsets', async (t) => {
  const p = new PartitionTracker()
  for (const o of [10, 11, 12, 13]) t.ok(p.start(o))
  p.finish(12)
  t.equal(p.takeCommit(), undefined, 'nothing before 10 is finished')
  p.finish(10)
  t.equal(p.takeCommit(), 11, '10 done: next to read is 11')
  t.equal(p.takeCommit(), undefined, 'the same offset is not committed twice')
  p.finish(11)
  t.equal(p.takeCommit(), 13, '11 and 12 done: 13 is the lowest unfinished')
  t.equal(p.lowestUnfinished, 13)
  p.finish(13)
  t.equal(p.takeCommit(), 14)
  t.equal(p.inFlight, 0)
})

t.test('a re-fetched offset that is tracked or already committable is refused', async (t) => {
  const p = new PartitionTracker()
  p.start(1)
  p.start(2)
  t.notOk(p.start(2), 'in flight')
  p.finish(1)
  t.notOk(p.start(1), 'finished and below the commit point')
  t.ok(p.start(3))
})

t.test('a failed commit is offered again', async (t) => {
  const p = new PartitionTracker()
  p.start(5)
  p.finish(5)
  const c = p.takeCommit()
  t.equal(c, 6)
  p.commitFailed(6)
  t.equal(p.takeCommit(), 6)
})

t.test('property: the commit point never passes an unfinished offset, whatever the finish order', async (t) => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 60 }), fc.infiniteStream(fc.nat()), (n, choices) => {
      const p = new PartitionTracker()
      const open = new Set<number>()
      for (let o = 0; o < n; o++) {
        p.start(o)
        open.add(o)
      }
      const it = choices[Symbol.iterator]()
      while (open.size > 0) {
        const list = [...open]
        const pick = list[(it.next().value as number) % list.length] as number
        open.delete(pick)
        p.finish(pick)
        const c = p.takeCommit()
        const lowestOpen = open.size === 0 ? n : Math.min(...open)
        if (c !== undefined && c > lowestOpen) return false
      }
      return p.lowestUnfinished === undefined
    }),
  )
  t.pass('held for every generated order')
})
