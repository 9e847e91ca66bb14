import type { Sql } from '../../src/sinks/db/client.js'

export interface TrackingRowView {
  status: string
  wamid: string | null
  attempts: number
  error_code: string | null
}

/** Polls the tracking row of an outbound message until it reaches `want` (writes are batched). */
export async function waitForTracking(
  sql: Sql,
  genesysMessageId: string,
  want: string,
  timeoutMs = 10_000,
): Promise<TrackingRowView> {
  const deadline = Date.now() + timeoutMs
  let last: TrackingRowView | undefined
  while (Date.now() < deadline) {
    const rows = await sql<TrackingRowView[]>`
      select status, wamid, attempts, error_code from message_tracking
      where direction = 'outbound' and genesys_message_id = ${genesysMessageId}`
    last = rows[0]
    if (last?.status === want) return last
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`tracking row ${genesysMessageId} is ${last?.status ?? 'missing'}, never ${want}`)
}

/**
 * Waits until none of these outbound messages holds an open claim (a claim still open may yet be
 * resent after the settlement window, so duplicates are only final then); returns how many remain.
 */
export async function waitNoOpenClaims(sql: Sql, genesysMessageIds: string[], timeoutMs: number): Promise<number> {
  const open = async (): Promise<number> =>
    (
      await sql<{ n: number }[]>`
        select count(*)::int as n from message_tracking
        where direction = 'outbound' and genesys_message_id = any(${genesysMessageIds}) and status = 'claimed'`
    )[0]?.n ?? -1
  const until = Date.now() + timeoutMs
  let n = await open()
  while (n !== 0 && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 250))
    n = await open()
  }
  return n
}
