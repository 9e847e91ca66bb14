import t from 'tap'
import { ownedConversation } from '../../bench/k6/ownership.js'

/** Every conversation each VU sends over `turns` iterations. */
function owners(maxVus: number, conversations: number, turns: number): Map<number, Set<number>> {
  const byConversation = new Map<number, Set<number>>()
  for (let v = 0; v < maxVus; v++) {
    for (let k = 0; k < turns; k++) {
      const i = ownedConversation(v, k, maxVus, conversations)
      const set = byConversation.get(i) ?? new Set<number>()
      set.add(v)
      byConversation.set(i, set)
    }
  }
  return byConversation
}

t.test('extra VUs k6 adds under load never share a conversation with another VU', async (t) => {
  // RATE=500: 50 pre-allocated VUs, up to 200; the old split (vu mod 50) gave VU 0 and VU 50 the same ones.
  for (const [maxVus, conversations] of [
    [200, 2000],
    [200, 201],
    [200, 200],
    [128, 1000],
  ] as const) {
    const seen = owners(maxVus, conversations, 50)
    const shared = [...seen].filter(([, vus]) => vus.size > 1)
    t.same(shared, [], `${maxVus} VUs, ${conversations} conversations: one VU per conversation`)
    t.ok(
      [...seen.keys()].every((i) => Number.isInteger(i) && i >= 0 && i < conversations),
      'only conversations that exist',
    )
    t.equal(seen.size, Math.min(conversations, maxVus * 50), 'every conversation is used')
  }
})

t.test('a VU cycles over its own conversations in turn', async (t) => {
  t.same(
    [0, 1, 2, 3].map((k) => ownedConversation(3, k, 10, 25)),
    [3, 13, 23, 3],
  )
  t.same(
    [0, 1, 2].map((k) => ownedConversation(9, k, 10, 25)),
    [9, 19, 9],
    'the last VUs own one fewer when the split is uneven',
  )
})
