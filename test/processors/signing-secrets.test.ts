import t from 'tap'
import { acceptedSecrets, isRetiringSecret, retireSecret } from '../../src/processors/signing-secrets.js'

const now = 1_700_000_000_000

t.test('acceptedSecrets: the previous secret only before its end', async (t) => {
  const previous = { secret: 'old', until: now + 1000 }
  t.same(acceptedSecrets('new', previous, now), ['new', 'old'])
  t.same(acceptedSecrets('new', previous, now + 999), ['new', 'old'])
  t.same(acceptedSecrets('new', previous, now + 1000), ['new'], 'the end itself is outside the window')
  t.same(acceptedSecrets('new', undefined, now), ['new'])
  t.same(acceptedSecrets('same', { secret: 'same', until: now + 1000 }, now), ['same'], 'no duplicate')
})

t.test('retireSecret: a changed secret retires the old one for the overlap', async (t) => {
  t.same(retireSecret('a', 'b', undefined, 5000, now), { secret: 'a', until: now + 5000 })
  t.equal(retireSecret('a', 'b', undefined, 0, now), undefined, 'overlap 0: the old one stops at once')
  const running = { secret: 'z', until: now + 5000 }
  t.same(retireSecret('a', 'b', running, 5000, now), { secret: 'a', until: now + 5000 }, 'one previous kept')
  t.equal(retireSecret('a', 'a', running, 9000, now), running, 'unchanged secret: the running window stays')
  t.equal(retireSecret('a', 'a', { secret: 'z', until: now }, 9000, now), undefined, 'an ended window is dropped')
})

t.test('isRetiringSecret: stored JSON is checked, not trusted', async (t) => {
  t.ok(isRetiringSecret({ secret: 's', until: 1 }))
  for (const bad of [
    undefined,
    null,
    's',
    { secret: 's' },
    { until: 1 },
    { secret: 1, until: 1 },
    { secret: 's', until: '1' },
  ]) {
    t.notOk(isRetiringSecret(bad), JSON.stringify(bad) ?? 'undefined')
  }
})
