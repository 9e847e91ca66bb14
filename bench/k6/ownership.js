// Which conversation a k6 VU sends next. Its own module so the arithmetic is tested under tap
// (test/bench/k6-ownership.test.ts) without k6's runtime.

/**
 * The k-th conversation (0-based index) of VU v (0-based), cycling over the ones it owns:
 * i ≡ v (mod maxVus), i < conversations. Any two VUs own disjoint sets, so a conversation is only
 * ever sent by one VU, one request at a time, and its sequence numbers arrive in order.
 * Needs v < maxVus ≤ conversations, so every VU owns at least one.
 */
export function ownedConversation(v, k, maxVus, conversations) {
  const owned = Math.floor((conversations - 1 - v) / maxVus) + 1
  return v + maxVus * (k % owned)
}
