import t from 'tap'
import { createKeyScheduler } from '../../src/consumer/key-scheduler.js'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

t.test('tasks of one key run in order, one at a time; other keys do not wait for them', async (t) => {
  const s = createKeyScheduler(100)
  const log: string[] = []
  let running = 0
  let maxRunningA = 0
  const task = (key: string, i: number, ms: number) => async () => {
    if (key === 'a') maxRunningA = Math.max(maxRunningA, ++running)
    await sleep(ms)
    if (key === 'a') running--
    log.push(`${key}${i}`)
  }
  const all = [
    s.run('a', task('a', 1, 30)),
    s.run('a', task('a', 2, 1)),
    s.run('b', task('b', 1, 1)),
    s.run('a', task('a', 3, 1)),
  ]
  await Promise.all(all)
  t.same(
    log.filter((x) => x.startsWith('a')),
    ['a1', 'a2', 'a3'],
  )
  t.ok(log.indexOf('b1') < log.indexOf('a1'), 'b did not wait behind the slow a1')
  t.equal(maxRunningA, 1)
})

t.test('a failing task does not stop the queue of its key', async (t) => {
  const s = createKeyScheduler(10)
  const log: number[] = []
  await s.run('k', async () => {
    throw new Error('boom')
  })
  await s.run('k', async () => {
    log.push(2)
  })
  t.same(log, [2])
  t.equal(s.size, 0)
})

t.test('waitForCapacity holds callers until tasks finish', async (t) => {
  const s = createKeyScheduler(2)
  let release: () => void = () => {}
  const gate = new Promise<void>((r) => (release = r))
  void s.run('x', () => gate)
  void s.run('y', () => gate)
  let admitted = false
  const w = s.waitForCapacity().then(() => (admitted = true))
  await sleep(5)
  t.notOk(admitted, 'full: the caller waits')
  release()
  await w
  t.ok(admitted)
  await s.idle()
  t.equal(s.size, 0)
})
