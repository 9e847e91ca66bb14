import t from 'tap'
import { alternatedRounds, median } from '../../bench/ab-rounds.js'

t.test('variants alternate their order every round, each once per round', async (t) => {
  const order = alternatedRounds(['A', 'B'], 4).map((o) => `${o.round}${o.variant}`)
  t.same(order, ['1A', '1B', '2B', '2A', '3A', '3B', '4B', '4A'])
  t.same(
    alternatedRounds(['A', 'B', 'C'], 2).map((o) => o.variant),
    ['A', 'B', 'C', 'C', 'B', 'A'],
  )
  t.same(alternatedRounds(['A', 'B'], 0), [])
})

t.test('median of the rounds', async (t) => {
  t.equal(median([30, 10, 20]), 20)
  t.equal(median([40, 10, 30, 20]), 25)
  t.equal(median([7]), 7)
  // a round that measured nothing does not shift the median
  t.equal(median([NaN, 5, 1, 3]), 3)
  t.ok(Number.isNaN(median([])))
  const input = [3, 1, 2]
  median(input)
  t.same(input, [3, 1, 2], 'input not reordered')
})
