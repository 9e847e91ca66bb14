import t from 'tap'
import { createBatcher } from '../src/batcher.js'

t.test('concurrent adds within the window share one flush and each gets its own result', async (t) => {
  const flushes: number[][] = []
  const b = createBatcher<number, number>({
    maxSize: 100,
    maxWaitMs: 5,
    flush: async (items) => {
      flushes.push(items)
      return items.map((n) => n * 2)
    },
  })
  const results = await Promise.all([1, 2, 3].map((n) => b.add(n)))
  t.same(results, [2, 4, 6])
  t.same(flushes, [[1, 2, 3]])
})

t.test('maxSize flushes at once without waiting for the window', async (t) => {
  const flushes: number[][] = []
  const b = createBatcher<number, number>({
    maxSize: 2,
    maxWaitMs: 60_000,
    flush: async (items) => {
      flushes.push(items)
      return items
    },
  })
  const all = Promise.all([1, 2, 3].map((n) => b.add(n)))
  await b.drain()
  t.same(await all, [1, 2, 3])
  t.same(flushes, [[1, 2], [3]])
})

t.test('a failed flush rejects every item of that batch only', async (t) => {
  let calls = 0
  const b = createBatcher<string, string>({
    maxSize: 2,
    maxWaitMs: 1,
    flush: async (items) => {
      calls++
      if (calls === 1) throw new Error('broker down')
      return items
    },
  })
  const first = Promise.allSettled([b.add('a'), b.add('b')])
  const second = Promise.allSettled([b.add('c')])
  const [r1, r2] = await Promise.all([first, second])
  t.same(
    r1.map((r) => r.status),
    ['rejected', 'rejected'],
  )
  t.same(r2, [{ status: 'fulfilled', value: 'c' }])
})

t.test('a flush that returns the wrong number of results rejects instead of misassigning', async (t) => {
  const b = createBatcher<number, number>({ maxSize: 10, maxWaitMs: 1, flush: async () => [1] })
  await t.rejects(Promise.all([b.add(1), b.add(2)]), /returned 1 results for 2 items/)
})

t.test('with maxInFlight 1, items arriving during a flush go out together in the next one', async (t) => {
  const flushes: number[][] = []
  let release: () => void = () => {}
  const gate = new Promise<void>((r) => (release = r))
  const b = createBatcher<number, number>({
    maxSize: 100,
    maxWaitMs: 0,
    maxInFlight: 1,
    flush: async (items) => {
      flushes.push(items)
      if (flushes.length === 1) await gate
      return items
    },
  })
  const first = b.add(1)
  await new Promise((r) => setTimeout(r, 5))
  const rest = [2, 3, 4].map((n) => b.add(n))
  await new Promise((r) => setTimeout(r, 5))
  t.same(flushes, [[1]], 'nothing else flushed while the first is in flight')
  release()
  t.same(await Promise.all([first, ...rest]), [1, 2, 3, 4])
  t.same(flushes, [[1], [2, 3, 4]])
})
