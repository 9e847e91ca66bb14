import t from 'tap'
import { computeLag } from '../../src/consumer/lag-monitor.js'

t.test('lag per partition: high watermark minus the committed offset', async (t) => {
  const watermarks = [
    { partition: 1, low: '0', high: '10' },
    { partition: 0, low: '0', high: '5' },
    { partition: 2, low: '40', high: '50' },
    { partition: 3, low: '0', high: '0' },
  ]
  t.same(
    computeLag(
      [
        { partition: 0, offset: '5' },
        { partition: 1, offset: '3' },
        { partition: 2, offset: '12' },
      ],
      watermarks,
    ),
    [
      { partition: 0, lag: 0 },
      { partition: 1, lag: 7 },
      // Committed below the low watermark (retention removed the rest): counted from the low one.
      { partition: 2, lag: 10 },
      { partition: 3, lag: 0 },
    ],
  )
  t.same(
    computeLag([{ partition: 0, offset: '-1' }], watermarks).map((x) => x.lag),
    [5, 10, 10, 0],
    'never committed: the whole retained partition',
  )
})
