import { createHmac } from 'node:crypto'
import fc from 'fast-check'
import t from 'tap'
import { verifyGenesysSignature, verifyMetaSignature } from '../../src/processors/verify-signature.js'

const secret = 'genesys-secret-longer-than-15'
const appSecret = 'meta-app-secret-0123'
// Meta keeps \u escapes in what it signs; the raw bytes must be used as they are.
const body = Buffer.from('{"text":"caf\\u00e9","n":1}')

const b64 = (b: Buffer, s: string) => 'sha256=' + createHmac('sha256', s).update(b).digest('base64')
const hex = (b: Buffer, s: string) => 'sha256=' + createHmac('sha256', s).update(b).digest('hex')

t.test('Genesys: Base64 HMAC over raw bytes', async (t) => {
  t.ok(verifyGenesysSignature(body, b64(body, secret), [secret]))
  t.notOk(verifyGenesysSignature(body, b64(body, 'other-secret-xxxxxxx'), [secret]))
  t.notOk(verifyGenesysSignature(body, undefined, [secret]), 'missing header')
  t.notOk(verifyGenesysSignature(body, '', [secret]), 'empty header')
  t.notOk(verifyGenesysSignature(body, b64(body, secret).replace('sha256=', 'sha1='), [secret]), 'wrong prefix')
  t.notOk(verifyGenesysSignature(body, b64(body, secret).slice(7), [secret]), 'no prefix')
  t.notOk(verifyGenesysSignature(body, hex(body, secret), [secret]), 'hex where Base64 is expected')
  t.notOk(verifyGenesysSignature(body, b64(body, secret) + 'A', [secret]), 'too long')
  t.notOk(verifyGenesysSignature(body, b64(body, secret).slice(0, -4), [secret]), 'too short')
  t.notOk(verifyGenesysSignature(body, b64(body, ''), ['']), 'empty secret never verifies')
  const reserialised = Buffer.from(JSON.stringify(JSON.parse(body.toString())))
  t.notOk(verifyGenesysSignature(reserialised, b64(body, secret), [secret]), 're-serialised body')
})

t.test('Meta: lowercase hex HMAC over raw bytes', async (t) => {
  t.ok(verifyMetaSignature(body, hex(body, appSecret), [appSecret]))
  t.notOk(verifyMetaSignature(body, hex(body, appSecret).toUpperCase(), [appSecret]), 'uppercase prefix and hex')
  t.notOk(verifyMetaSignature(body, 'sha256=' + hex(body, appSecret).slice(7).toUpperCase(), [appSecret]))
  t.notOk(verifyMetaSignature(body, b64(body, appSecret), [appSecret]), 'Base64 where hex is expected')
  t.notOk(verifyMetaSignature(body, undefined, [appSecret]))
  t.notOk(verifyMetaSignature(body, 'sha256=', [appSecret]))
  t.notOk(verifyMetaSignature(body, hex(body, appSecret).slice(0, -2), [appSecret]), 'too short')
  t.notOk(verifyMetaSignature(body, hex(body, appSecret) + '00', [appSecret]), 'too long')
  t.notOk(verifyMetaSignature(body, hex(body, ''), ['']), 'empty secret never verifies')
  t.notOk(
    verifyMetaSignature(Buffer.from('{"text":"café","n":1}'), hex(body, appSecret), [appSecret]),
    'unescaped body',
  )
})

t.test('any single bit flip in the body or the signature is rejected', async (t) => {
  const flip = (buf: Buffer, bit: number) => {
    const out = Buffer.from(buf)
    out[bit >> 3]! ^= 1 << (bit & 7)
    return out
  }
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 1, maxLength: 200 }), fc.nat(), (bytes, n) => {
      const raw = Buffer.from(bytes)
      const bit = n % (raw.length * 8)
      const g = b64(raw, secret)
      const m = hex(raw, appSecret)
      if (!verifyGenesysSignature(raw, g, [secret]) || !verifyMetaSignature(raw, m, [appSecret])) return false
      if (verifyGenesysSignature(flip(raw, bit), g, [secret])) return false
      if (verifyMetaSignature(flip(raw, bit), m, [appSecret])) return false
      const gDigest = Buffer.from(g.slice(7), 'base64')
      const mDigest = Buffer.from(m.slice(7), 'hex')
      const sbit = n % 256
      if (verifyGenesysSignature(raw, 'sha256=' + flip(gDigest, sbit).toString('base64'), [secret])) return false
      return !verifyMetaSignature(raw, 'sha256=' + flip(mDigest, sbit).toString('hex'), [appSecret])
    }),
  )
  t.pass('property holds')
})

t.test('a list of accepted secrets (a rotation overlap): any one of them verifies, nothing else', async (t) => {
  const previous = 'genesys-secret-before-rotation'
  t.ok(verifyGenesysSignature(body, b64(body, previous), [secret, previous]), 'the previous secret')
  t.ok(verifyGenesysSignature(body, b64(body, secret), [secret, previous]), 'the current secret')
  t.notOk(verifyGenesysSignature(body, b64(body, previous), [secret]), 'the previous secret once its overlap ended')
  t.notOk(verifyGenesysSignature(body, b64(body, secret), []), 'no secret configured')
  t.notOk(verifyGenesysSignature(body, b64(body, ''), [secret, '']), 'an empty secret in the list never verifies')
  t.ok(verifyMetaSignature(body, hex(body, 'old-app-secret'), [appSecret, 'old-app-secret']))
  t.notOk(verifyMetaSignature(body, hex(body, 'old-app-secret'), [appSecret]))
  t.notOk(verifyMetaSignature(body, hex(body, ''), ['', appSecret]))
})
