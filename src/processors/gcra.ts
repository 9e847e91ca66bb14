/**
 * Generic cell rate algorithm: a token bucket kept as one number, the theoretical arrival time
 * (TAT) of the next send. Pure, so the in-process fallback and the Redis script share the rule.
 * Returns how long to wait (0 = send now) and the TAT to store when sending now.
 */
export function gcra(
  tatMs: number | undefined,
  nowMs: number,
  ratePerSecond: number,
  burst: number,
): { waitMs: number; newTatMs: number } {
  const interval = 1000 / ratePerSecond
  const tolerance = interval * Math.max(0, burst - 1)
  const tat = Math.max(tatMs ?? nowMs, nowMs)
  const allowAt = tat - tolerance
  if (allowAt > nowMs) return { waitMs: Math.ceil(allowAt - nowMs), newTatMs: tat }
  return { waitMs: 0, newTatMs: tat + interval }
}
