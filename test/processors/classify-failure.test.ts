import t from 'tap'
import { classifyHttpFailure, repeatableFailure } from '../../src/processors/classify-failure.js'

t.test('one reading of an HTTP failure for every platform', async (t) => {
  t.equal(classifyHttpFailure({ status: 0, network: true, networkCode: 'ECONNREFUSED' }), 'retry')
  t.equal(classifyHttpFailure({ status: 0, network: true, networkCode: 'UND_ERR_HEADERS_TIMEOUT' }), 'unknown-outcome')
  t.equal(classifyHttpFailure({ status: 0, network: true }), 'unknown-outcome')
  t.equal(classifyHttpFailure({ status: 429 }), 'retry')
  t.equal(classifyHttpFailure({ status: 500, error: { code: 131000 } }), 'retry', 'the platform says it failed')
  t.equal(classifyHttpFailure({ status: 503, error: { code: 'service.unavailable' } }), 'retry')
  t.equal(classifyHttpFailure({ status: 502 }), 'unknown-outcome', "a proxy's 502: the platform may have it")
  t.equal(classifyHttpFailure({ status: 200 }), 'unknown-outcome')
  t.equal(classifyHttpFailure({ status: 401 }), 'auth')
  t.equal(classifyHttpFailure({ status: 403, error: { code: 'forbidden' } }), 'auth')
  t.equal(classifyHttpFailure({ status: 400, error: { code: 'bad.request' } }), 'permanent')
  t.equal(classifyHttpFailure({ status: 413, tooLarge: true }), 'too-large')
})

t.test('repeatable calls retry an unknown outcome, keep Retry-After, and fail the rest', async (t) => {
  const codes = {
    transient: 'GWB_GENESYS_TRANSIENT',
    permanent: 'GWB_GENESYS_PERMANENT',
    auth: 'GWB_GENESYS_AUTH',
  } as const
  const bare = repeatableFailure({ status: 504 }, codes, 'x')
  t.equal(bare.kind, 'retry')
  const limited = repeatableFailure({ status: 429, retryAfterMs: 2000 }, codes, 'x')
  t.equal(limited.kind === 'retry' ? limited.error.retryAfterMs : undefined, 2000)
  const auth = repeatableFailure({ status: 401 }, codes, 'x')
  t.equal(auth.kind === 'fail' ? auth.error.code : undefined, 'GWB_GENESYS_AUTH')
  const bad = repeatableFailure({ status: 400 }, codes, 'x')
  t.equal(bad.kind === 'fail' ? bad.error.code : undefined, 'GWB_GENESYS_PERMANENT')
})
