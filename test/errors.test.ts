import t from 'tap'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { projectRoot } from '../src/paths.js'
import { BridgeError, errorCodes, isBridgeError } from '../src/errors.js'

t.test('a BridgeError carries its code, retryability and cause, and is recognised by brand', async (t) => {
  const cause = new Error('socket hang up')
  const err = new BridgeError('GWB_META_TRANSIENT', 'Meta answered 500', { canRetry: true, cause, retryAfterMs: 250 })
  t.equal(err.code, 'GWB_META_TRANSIENT')
  t.equal(err.canRetry, true)
  t.equal(err.cause, cause)
  t.equal(err.retryAfterMs, 250)
  t.ok(isBridgeError(err))
  t.notOk(isBridgeError(new Error('plain')))
  t.notOk(isBridgeError({ code: 'GWB_CONFIG' }))
})

t.test('errors default to not retryable and codes are unique', async (t) => {
  t.equal(new BridgeError('GWB_BAD_REQUEST', 'x').canRetry, false)
  t.equal(new Set(errorCodes).size, errorCodes.length)
})

t.test('every error code is documented in docs/errors.md', async (t) => {
  const doc = await readFile(join(projectRoot, 'docs/errors.md'), 'utf8')
  const missing = errorCodes.filter((c) => !doc.includes(`\`${c}\``))
  t.same(missing, [], 'each code has a row')
})
