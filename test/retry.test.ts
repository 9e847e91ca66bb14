import t from 'tap'
import { Retrier, retryUntil } from '../src/retry.js'

t.test('retryUntil stops at the time ceiling, read from the injected clock', async (t) => {
  let now = 0
  let calls = 0
  const r = await retryUntil(
    async () => {
      calls++
      now += 1000 // each try takes a second of the fake clock
      throw new Error('down')
    },
    { baseMs: 1, maxMs: 1, maxDurationMs: 5000 },
    { now: () => now, random: () => 0 },
  )
  t.equal(r.ok, false)
  t.equal(r.ok ? undefined : r.reason, 'expired')
  t.equal(calls, 5, 'tried while the ceiling allowed another wait')
})

t.test('retryUntil returns the value, and stops at once at shutdown', async (t) => {
  let n = 0
  const r = await retryUntil(async () => (++n < 3 ? Promise.reject(new Error('x')) : n), {
    baseMs: 1,
    maxMs: 2,
    maxDurationMs: Infinity,
  })
  t.same(r, { ok: true, value: 3 })

  const abort = new AbortController()
  const started = Date.now()
  setTimeout(() => abort.abort(), 20)
  const stopped = await retryUntil(
    () => Promise.reject(new Error('never')),
    {
      baseMs: 60_000,
      maxMs: 60_000,
      maxDurationMs: Infinity,
    },
    { signal: abort.signal },
  )
  t.equal(stopped.ok ? undefined : stopped.reason, 'aborted')
  t.ok(Date.now() - started < 30_000, 'the minute-long wait ended at shutdown')
})

t.test('a non-retryable error is rethrown at once', async (t) => {
  let calls = 0
  await t.rejects(
    retryUntil(
      async () => {
        calls++
        throw new Error('poison')
      },
      { baseMs: 1, maxMs: 1, maxDurationMs: Infinity },
      { retryable: () => false },
    ),
    /poison/,
  )
  t.equal(calls, 1)
})

t.test('Retrier: the platform hint wins over the backoff, and a hint past the ceiling expires now', async (t) => {
  let now = 0
  const r = new Retrier({ baseMs: 10, maxMs: 100, maxDurationMs: 10_000 }, { now: () => now, random: () => 0 })
  t.equal(r.nextDelay(), 10)
  t.equal(r.nextDelay(5000), 5000)
  now = 6000
  t.equal(await r.wait(5000), 'expired', 'waiting 5 s would pass the 10 s ceiling')
  const capped = new Retrier({ baseMs: 1, maxMs: 1, maxDurationMs: Infinity, maxAttempts: 2 })
  t.equal(await capped.wait(), 'again')
  t.equal(await capped.wait(), 'expired', 'the optional attempt cap')
})

t.test('countFrom: a clock kept elsewhere (a row) can only bring the ceiling nearer', async (t) => {
  let now = 10_000
  const policy = { baseMs: 1, maxMs: 1, jitter: 0, maxDurationMs: 1000 }
  const earlier = new Retrier(policy, { now: () => now })
  earlier.countFrom(now - 2000)
  t.equal(earlier.elapsedMs, 2000)
  t.equal(await earlier.wait(), 'expired', 'first failed 2 s ago: past the 1 s ceiling')
  const later = new Retrier(policy, { now: () => now })
  later.countFrom(now + 5000)
  now += 10
  t.equal(later.elapsedMs, 10, 'a later time does not lengthen the ceiling')
})
