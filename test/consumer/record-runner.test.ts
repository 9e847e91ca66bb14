import t from 'tap'
import pino from 'pino'
import { runRecord, type FlowHandler, type RecordMeta } from '../../src/consumer/record-runner.js'
import { BridgeError } from '../../src/errors.js'
import { ok, retry, type StageResult } from '../../src/processors/result.js'

const record: RecordMeta = { topic: 't', partition: 0, offset: 7, key: Buffer.from('k'), value: Buffer.from('v') }
const opts = { maxAttempts: 3, retryBaseMs: 1, retryMaxMs: 2, retryMaxDurationMs: 60_000, unknownErrorMaxMs: 2 }
const deps = () => ({ log: pino({ level: 'silent' }), metrics: undefined, signal: new AbortController().signal })

function handler(over: Partial<FlowHandler<string>>) {
  const seen = { deadLetters: [] as string[], failures: [] as string[], handled: 0 }
  const h: FlowHandler<string> = {
    flow: 'test',
    decode: async (v) => v.toString(),
    handle: async () => {
      seen.handled++
      return ok(undefined)
    },
    onFail: async (_m, e) => void seen.failures.push(e.code),
    onDeadLetter: async (_m, e) => void seen.deadLetters.push(e.code),
    ...over,
  }
  return { h, seen }
}

t.test('a registry outage while decoding holds the record and retries; poison dead-letters at once', async (t) => {
  let calls = 0
  const { h, seen } = handler({
    decode: async (v) => {
      if (++calls < 3) throw new BridgeError('GWB_STORE_UNAVAILABLE', 'registry away', { canRetry: true })
      return v.toString()
    },
  })
  t.equal(await runRecord(h, record, opts, deps()), 'done')
  t.equal(seen.handled, 1, 'decoded on the third try and handled')
  t.same(seen.deadLetters, [])

  const poison = handler({
    decode: async () => {
      throw new BridgeError('GWB_DECODE', 'not avro')
    },
  })
  t.equal(await runRecord(poison.h, record, opts, deps()), 'done')
  t.same(poison.seen.deadLetters, ['GWB_DECODE'])
  t.equal(poison.seen.handled, 0)
})

t.test('retries stop at maxAttempts and the record dead-letters; an unknown throw never finishes it', async (t) => {
  let attempts = 0
  const { h, seen } = handler({
    handle: async (): Promise<StageResult<unknown>> => {
      attempts++
      return retry(new BridgeError('GWB_META_TRANSIENT', '500', { canRetry: true }))
    },
  })
  t.equal(await runRecord(h, record, opts, deps()), 'done')
  t.equal(attempts, 3)
  t.same(seen.deadLetters, ['GWB_META_TRANSIENT'])

  const abort = new AbortController()
  let throws = 0
  const unknown = handler({
    handle: async () => {
      if (++throws === 5) abort.abort()
      throw new Error('database down')
    },
  })
  const outcome = await runRecord(unknown.h, record, opts, { ...deps(), signal: abort.signal })
  t.equal(outcome, 'abandoned', 'kept retrying until shutdown; its offset is never committed')
  t.same(unknown.seen.deadLetters, [], 'an unknown error is not dead-lettered')
})

t.test('with no attempt cap a transient failure is retried until the time ceiling, then dead-letters', async (t) => {
  let now = 0
  let attempts = 0
  const { h, seen } = handler({
    handle: async (): Promise<StageResult<unknown>> => {
      attempts++
      now += 10_000 // ten seconds of outage per try on the injected clock
      return retry(new BridgeError('GWB_GENESYS_TRANSIENT', 'unreachable', { canRetry: true }))
    },
  })
  const timed = { ...opts, maxAttempts: 0, retryMaxDurationMs: 120_000, now: () => now }
  t.equal(await runRecord(h, record, timed, deps()), 'done')
  t.ok(attempts >= 11, `retried for the whole two minutes, not three attempts (${attempts})`)
  t.same(seen.deadLetters, ['GWB_GENESYS_TRANSIENT'], 'dead-lettered only past the ceiling')
})
