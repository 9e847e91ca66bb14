import t from 'tap'
import { createByteBudget, createSemaphore } from '../src/semaphore.js'

t.test('at most size holders; waiters get slots in arrival order; double release frees one slot', async (t) => {
  const s = createSemaphore(2)
  const r1 = await s.acquire()
  const r2 = await s.acquire()
  t.equal(s.available, 0)
  const order: number[] = []
  const w3 = s.acquire().then((r) => (order.push(3), r))
  const w4 = s.acquire().then((r) => (order.push(4), r))
  r1()
  r1()
  const r3 = await w3
  t.same(order, [3], 'one release admits one waiter, even if called twice')
  r2()
  const r4 = await w4
  t.same(order, [3, 4])
  r3()
  r4()
  t.equal(s.available, 2)
})

t.test('byte budget: reservations wait for room in arrival order; held bytes count at once', async (t) => {
  const b = createByteBudget(100)
  const first = await b.reserve(60)
  const order: string[] = []
  const big = b.reserve(70).then((r) => {
    order.push('big')
    return r
  })
  const small = b.reserve(10).then((r) => {
    order.push('small')
    return r
  })
  await new Promise((r) => setImmediate(r))
  t.same(order, [], 'a reservation waits behind one that does not fit yet')
  const held = b.hold(50)
  t.equal(b.used, 110, 'held bytes count even over the budget')
  first()
  held()
  const [rb, rs] = await Promise.all([big, small])
  t.same(order, ['big', 'small'])
  t.equal(b.used, 80)
  rb()
  rs()
  t.equal(b.used, 0)
  const huge = await b.reserve(1000)
  t.equal(b.used, 1000, 'a reservation larger than the budget proceeds when nothing else is held')
  huge()
  const aborted = new AbortController()
  const blocker = await b.reserve(100)
  const waiting = b.reserve(10, aborted.signal)
  aborted.abort(new Error('deadline'))
  await t.rejects(waiting, /deadline/)
  blocker()
  t.equal(b.used, 0)
})
