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

/**
 * Up to `want` sends at once: how many the bucket allows now (0..want), the TAT after them, and,
 * when none is allowed, how long until one is. Asking for n at once equals asking n times in a
 * row at the same instant, so batching waiters changes no rate.
 */
export function gcraTake(
  tatMs: number | undefined,
  nowMs: number,
  ratePerSecond: number,
  burst: number,
  want: number,
): { granted: number; waitMs: number; newTatMs: number } {
  const interval = 1000 / ratePerSecond
  const tolerance = interval * Math.max(0, burst - 1)
  const tat = Math.max(tatMs ?? nowMs, nowMs)
  const room = nowMs + tolerance - tat
  if (room < 0) return { granted: 0, waitMs: Math.ceil(-room), newTatMs: tat }
  // The epsilon keeps 2.9999999 from flooring to 2 when the float arithmetic lands just short.
  const granted = Math.min(Math.max(0, Math.trunc(want)), Math.floor(room / interval + 1e-9) + 1)
  return { granted, waitMs: 0, newTatMs: tat + granted * interval }
}
