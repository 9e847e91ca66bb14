import t from 'tap'
import { collector } from '../../src/cli/io.js'
import { progress } from '../../src/cli/progress.js'

t.test('progress names done/total, the rate so far and the time left at that rate', async (t) => {
  let clock = 1_000_000
  const err = collector()
  const tick = progress(err, 'replay genesys-outbound', 10_000, () => clock)
  clock += 2000
  tick(1000, 'matched 10, produced 10')
  clock += 60_000
  tick(4000)
  const [first, second] = err.text().trim().split('\n')
  t.equal(first, 'replay genesys-outbound: 1000/10000 (500/s ETA 18s), matched 10, produced 10')
  // 4000 in 62 s: 64.5/s, 6000 left: 93 s.
  t.equal(second, 'replay genesys-outbound: 4000/10000 (65/s ETA 1m33s)')
})
