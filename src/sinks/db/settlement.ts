import { createBatcher } from '../../batcher.js'
import type { Sql } from './client.js'
import type { BatchOptions, TrackingStatus } from './tracking-rows.js'

/**
 * The SQL of outbound settlement (issue 12): the state a send is in, the one automatic resend,
 * explicit resend tokens, and recording the wamid a status webhook names through the send's
 * callback data. Every statement carries the tenant: a message id names a message of one tenant.
 */

export interface SendState {
  status: TrackingStatus
  wamid: string | null
  claimedAt: Date | null
  resentAt: Date | null
  /** The wamid came from a status naming the message, not from Meta's answer. */
  settledByStatus: boolean
  /** Bumped by every claim: the version a resend is taken against. */
  attempts: number
  /** Its first transient failure (markRetrying), if any: the retry ceiling counts from it. */
  firstFailedAt: Date | null
}

export interface MessageRef {
  tenantId: string
  messageId: string
}

export interface SettleResult {
  /** The row took this wamid (and moved to sent). */
  settled: boolean
  /**
   * The message was resent automatically and this status is of a copy Meta had taken: it came after
   * the window (or crossed the resend), so the customer got the message twice. The residual risk.
   */
  resentCopy: boolean
}

export interface SettlementStore {
  /** The outbound row of this message, if any (batched: concurrent callers share one SELECT). */
  state: (ref: MessageRef) => Promise<SendState | undefined>
  /**
   * Takes an unsettled claim (no wamid, still 'claimed', never resent, claimed `attempts` times) for
   * its one automatic resend. true: this caller sends it; false: someone else moved it first.
   */
  takeForResend: (ref: MessageRef & { attempts: number }) => Promise<boolean>
  /**
   * Uses an explicit resend's token. The first use releases the message in the same statement, so it
   * may be claimed and sent again; later uses (a redelivered copy) change nothing and return false.
   */
  useResendToken: (ref: MessageRef & { token: string; reason: string }) => Promise<boolean>
  /**
   * A status names this message (callback data) with a wamid no row has: record the wamid on a row
   * whose outcome is not known (claimed, retrying, dead-lettered), as sent.
   */
  settleFromStatus: (ref: MessageRef & { wamid: string; at: Date; resend: boolean }) => Promise<SettleResult>
}

export function createSettlementStore(sql: Sql, opts: BatchOptions): SettlementStore {
  const states = createBatcher<MessageRef, SendState | undefined>({
    ...opts,
    flush: async (refs) => {
      const rows = await sql<(SendState & { tenantId: string; messageId: string })[]>`
        select m.tenant_id as "tenantId", m.genesys_message_id as "messageId", m.status, m.wamid,
               m.claimed_at as "claimedAt", m.resent_at as "resentAt",
               m.settled_at is not null as "settledByStatus", m.attempts, m.first_failed_at as "firstFailedAt"
        from message_tracking m
        join unnest(${refs.map((r) => r.tenantId)}::text[], ${refs.map((r) => r.messageId)}::text[]) as v(t, id)
          on m.tenant_id = v.t and m.genesys_message_id = v.id
        where m.direction = 'outbound'`
      const byRef = new Map(rows.map(({ tenantId, messageId, ...s }) => [`${tenantId}\n${messageId}`, s]))
      return refs.map((r) => byRef.get(`${r.tenantId}\n${r.messageId}`))
    },
  })

  return {
    state: (ref) => states.add(ref),

    async takeForResend(ref) {
      const rows = await sql`
        update message_tracking set
          status = 'claimed', claimed_at = now(), resent_at = now(), attempts = attempts + 1,
          error_text = 'resent: no status named it within the reconciliation window'
        where direction = 'outbound' and tenant_id = ${ref.tenantId} and genesys_message_id = ${ref.messageId}
          and status = 'claimed' and wamid is null and resent_at is null and attempts = ${ref.attempts}
        returning 1`
      return rows.count === 1
    },

    async useResendToken(ref) {
      // One statement: a crash can never leave the token used without the release (or the reverse).
      // The release forgets the earlier wamid and resend, so this send is settled on its own.
      const rows = await sql<{ fresh: boolean }[]>`
        with t as (
          insert into resend_tokens (tenant_id, token, genesys_message_id)
          values (${ref.tenantId}, ${ref.token}, ${ref.messageId})
          on conflict do nothing
          returning 1
        ), r as (
          update message_tracking set
            status = 'retrying', wamid = null, resent_at = null, settled_at = null, late_copy_at = null,
            first_failed_at = null, receipt_owed = null, status_receipt_owed = null,
            error_text = ${ref.reason}
          where direction = 'outbound' and tenant_id = ${ref.tenantId} and genesys_message_id = ${ref.messageId}
            and exists (select 1 from t)
          returning 1
        )
        select exists (select 1 from t) as fresh, (select count(*) from r) as released`
      return rows[0]?.fresh === true
    },

    async settleFromStatus(ref) {
      // A row already taken for its resend may still be settled here by a status of the first copy
      // (it crossed the resend): the wamid is Meta's record all the same.
      const settled = await sql`
        update message_tracking set
          wamid = ${ref.wamid}, status = 'sent', sent_at = coalesce(sent_at, ${ref.at}), settled_at = now(),
          error_code = null, error_text = null, receipt_owed = null
        where direction = 'outbound' and tenant_id = ${ref.tenantId} and genesys_message_id = ${ref.messageId}
          and wamid is null and status in ('claimed', 'retrying', 'dead_lettered')
        returning 1`
      // Any status of the first copy of a resent message proves Meta had it: the resend is a second
      // copy. Marked once per message, so each duplicate is counted once.
      const late = ref.resend
        ? { count: 0 }
        : await sql`
            update message_tracking set late_copy_at = now()
            where direction = 'outbound' and tenant_id = ${ref.tenantId} and genesys_message_id = ${ref.messageId}
              and resent_at is not null and late_copy_at is null
            returning 1`
      return { settled: settled.count === 1, resentCopy: late.count === 1 }
    },
  }
}

/**
 * Deletes resend tokens used before the cut-off (retention); returns how many. A copy of a resend
 * record read after its token is gone would release and send the message once more, so the cut-off
 * must lie beyond the longest time such a copy can still be read (the topic's retention).
 */
export async function expireResendTokens(sql: Sql, olderThan: Date): Promise<number> {
  const rows = await sql`delete from resend_tokens where used_at < ${olderThan} returning 1`
  return rows.count
}
