import t from 'tap'
import {
  classifyMetaError,
  receiptReasonForExhausted,
  receiptReasonForMetaCode,
} from '../../src/processors/classify-meta-error.js'

const meta = (code: number, status = 400, details?: string) =>
  classifyMetaError({ status, error: { code, message: `(#${code}) something`, details } })

t.test('rate limits retry with GWB_META_RATE_LIMIT and keep Retry-After', async (t) => {
  for (const code of [130429, 80007, 4]) {
    const c = meta(code, 429)
    t.equal(c.action, 'retry', String(code))
    t.equal(c.error.code, 'GWB_META_RATE_LIMIT')
    t.ok(c.error.canRetry)
    t.equal(c.receiptReason, 'RateLimited')
  }
  const withAfter = classifyMetaError({ status: 429, error: { code: 130429, message: 'x' }, retryAfterMs: 2000 })
  t.equal(withAfter.error.retryAfterMs, 2000)
})

t.test('131056 throttles only that recipient', async (t) => {
  const c = meta(131056)
  t.equal(c.action, 'throttle-recipient')
  t.equal(c.error.code, 'GWB_META_RATE_LIMIT')
  t.ok(c.error.canRetry)
})

t.test('transient codes, 5xx with an error body and refused connections retry', async (t) => {
  for (const code of [1, 2, 131000, 131016, 131057]) {
    const c = meta(code, 500)
    t.equal(c.action, 'retry', String(code))
    t.equal(c.error.code, 'GWB_META_TRANSIENT')
    t.equal(c.receiptReason, 'ServerError')
  }
  t.equal(classifyMetaError({ status: 599, error: { message: 'x', code: 987654 } }).action, 'retry')
  const refused = classifyMetaError({ status: 0, network: true, networkCode: 'ECONNREFUSED', error: { message: 'x' } })
  t.equal(refused.action, 'retry', 'the request never left')
  t.equal(refused.error.details.maybeSent, false)
})

t.test('no answer, a bare 5xx and a 2xx without wamid: outcome unknown, never a blind retry', async (t) => {
  const net = classifyMetaError({
    status: 0,
    network: true,
    networkCode: 'UND_ERR_SOCKET',
    error: { message: 'ECONNRESET' },
  })
  t.equal(net.action, 'unknown-outcome')
  t.equal(net.error.code, 'GWB_META_TRANSIENT')
  t.equal(net.error.details.maybeSent, true)
  t.match(net.error.message, /ECONNRESET/)
  t.equal(classifyMetaError({ status: 503 }).action, 'unknown-outcome', "a proxy's 503 without Meta's body")
  t.equal(classifyMetaError({ status: 502, error: { message: 'bad gateway' } }).action, 'unknown-outcome')
  t.equal(
    classifyMetaError({ status: 200, error: { message: '2xx without messages[0].id' } }).action,
    'unknown-outcome',
  )
})

t.test('permanent codes fail with the facts §5 reason', async (t) => {
  const cases: [number, string][] = [
    [131047, 'MessageNotAllowed'],
    [131026, 'InvalidDestination'],
    [131051, 'UnsupportedMessage'],
    [100, 'InvalidMessageStructure'],
    [131008, 'InvalidMessageStructure'],
    [131009, 'InvalidMessageStructure'],
    [131021, 'InvalidMessageStructure'],
    [132000, 'InvalidMessageStructure'],
    [132001, 'InvalidMessageStructure'],
  ]
  for (const [code, reason] of cases) {
    const c = meta(code)
    t.equal(c.action, 'fail', String(code))
    t.equal(c.error.code, 'GWB_META_PERMANENT')
    t.notOk(c.error.canRetry)
    t.equal(c.receiptReason, reason)
  }
  const c = meta(131047, 400, 'More than 24 hours have passed')
  t.equal(c.receiptMessage, 'WhatsApp 131047: More than 24 hours have passed')
  t.equal(meta(131047).receiptMessage, 'WhatsApp 131047: (#131047) something')
})

t.test('media errors fail as GWB_MEDIA, reason read from details', async (t) => {
  t.equal(meta(131052).error.code, 'GWB_MEDIA')
  t.equal(meta(131052).action, 'fail')
  t.equal(meta(131052).receiptReason, 'GeneralError')
  t.equal(meta(131053, 400, 'Media upload error: file size too large').receiptReason, 'InvalidMediaContentLength')
  t.equal(meta(131053, 400, 'Unsupported MIME type text/x-foo').receiptReason, 'MediaTypeNotAllowed')
})

t.test('quality limits fail as RateLimited without hot retry, and alert', async (t) => {
  for (const code of [131048, 131049]) {
    const c = meta(code)
    t.equal(c.action, 'fail')
    t.notOk(c.error.canRetry)
    t.equal(c.receiptReason, 'RateLimited')
    t.ok(c.alert)
  }
})

t.test('auth errors fail, alert, and ask for one credential refresh when the token may be stale', async (t) => {
  for (const code of [190, 0, 10, 200, 250, 299]) {
    const c = meta(code, 400)
    t.equal(c.action, 'fail', String(code))
    t.equal(c.error.code, 'GWB_META_AUTH')
    t.ok(c.alert)
  }
  t.ok(meta(190, 401).refreshCredentials)
  t.ok(meta(190, 400).refreshCredentials, '190 is "token expired" whatever the status')
  t.notOk(meta(10, 403).refreshCredentials, 'permission missing: a new token will not help')
  t.ok(classifyMetaError({ status: 401 }).refreshCredentials)
  t.equal(classifyMetaError({ status: 401 }).error.code, 'GWB_META_AUTH')
  t.notOk(meta(131047).refreshCredentials)
})

t.test('account and policy blocks fail and alert', async (t) => {
  for (const code of [131031, 368, 130497]) {
    const c = meta(code)
    t.equal(c.action, 'fail')
    t.equal(c.error.code, 'GWB_META_PERMANENT')
    t.ok(c.alert)
  }
  t.equal(meta(130497).receiptReason, 'MessageNotAllowed')
})

t.test('unknown 4xx fails GeneralError, unknown 5xx retries, 429 without code is a rate limit', async (t) => {
  const c = classifyMetaError({ status: 400, error: { code: 99999, message: 'new thing' } })
  t.equal(c.action, 'fail')
  t.equal(c.receiptReason, 'GeneralError')
  t.equal(c.receiptMessage, 'WhatsApp 99999: new thing')
  t.equal(classifyMetaError({ status: 404 }).receiptMessage, 'WhatsApp HTTP 404: no error body')
  t.equal(classifyMetaError({ status: 502, error: { message: 'bad gateway' } }).receiptReason, 'ServerError')
  t.equal(classifyMetaError({ status: 429 }).error.code, 'GWB_META_RATE_LIMIT')
  t.notOk(classifyMetaError({ status: 400 }).alert)
})

t.test('reasons for webhook codes and exhausted retries', async (t) => {
  t.equal(receiptReasonForMetaCode(131047), 'MessageNotAllowed')
  t.equal(receiptReasonForMetaCode(131056), 'RateLimited')
  t.equal(receiptReasonForMetaCode(131000), 'ServerError')
  t.equal(receiptReasonForMetaCode(undefined), 'GeneralError')
  t.equal(receiptReasonForMetaCode(424242), 'GeneralError')
  t.equal(receiptReasonForExhausted('GWB_META_RATE_LIMIT'), 'RateLimited')
  t.equal(receiptReasonForExhausted('GWB_META_TRANSIENT'), 'ServerError')
  t.equal(receiptReasonForExhausted('GWB_MEDIA'), 'GeneralError')
})
