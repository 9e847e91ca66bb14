/**
 * Pure helpers of the bench's A/B runs: the order variants run in and the median of their rounds.
 */

/**
 * Rounds of an A/B, each variant once per round, the order reversed every other round (A B, B A,
 * A B …): load that drifts during a run falls on every variant alike instead of always on the one
 * that runs second.
 */
export function alternatedRounds<V>(variants: readonly V[], rounds: number): { round: number; variant: V }[] {
  const out: { round: number; variant: V }[] = []
  for (let round = 1; round <= rounds; round++) {
    const order = round % 2 === 1 ? variants : [...variants].reverse()
    for (const variant of order) out.push({ round, variant })
  }
  return out
}

/** The median (mean of the middle two for an even count), ignoring NaN (a round that measured nothing); NaN for none. */
export function median(xs: readonly number[]): number {
  const s = [...xs].filter((x) => !Number.isNaN(x)).sort((x, y) => x - y)
  if (s.length === 0) return NaN
  const mid = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2
}
