import t from 'tap'
import { createSemaphore } from '../src/semaphore.js'

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
