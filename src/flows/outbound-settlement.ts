import { Counter, type Registry } from 'prom-client'
import type { MessageRef, SendState, SettlementStore } from '../sinks/db/settlement.js'

/**
 * Settling a send whose outcome is unknown (its owner died after the claim, no answer after the
 * request left, a bare 5xx, a 2xx without a wamid). Meta has no idempotency key, but it echoes the
 * send's callback data in that message's statuses: the status flow records the wamid on the row
 * (settleFromStatus). So whoever holds the record waits on the row: a wamid or a delivery status
 * settles it (no resend); with none by `claimed_at + window` it is resent once; a resent message
 * still unsettled after another window is left to the operator (`gwb in-doubt list`).
 * The record is held meanwhile, so the conversation's later messages wait behind it.
 */

export type Outcome =
  /** Known not sent ('retrying'): claim it and send. */
  | { kind: 'claimable' }
  /** No status within the window and never resent: take it (at this claim version) and send once more. */
  | { kind: 'resend-due'; attempts: number }
  /** A wamid or a delivery status is recorded: Meta has it. */
  | { kind: 'settled'; state: SendState }
  /** Dead-lettered already: handled (a re-drive carries a resend token). */
  | { kind: 'finished' }
  /** Resent once and still no status: in doubt for good. */
  | { kind: 'unsettled' }
  /** Shutdown came first: nothing was decided; the next owner of the record waits on the row again. */
  | { kind: 'aborted' }

export interface SettlementPorts {
  settlement: Pick<SettlementStore, 'state'>
  /** How long after a claim a status may take to name the message before it is resent. */
  reconcileWindowMs: number
  /** How often the row is looked at while waiting. */
  settlePollMs: number
  now: () => number
  /** Resolves true after `ms`, false as soon as the signal aborts (retry.ts `sleep`; tests may fake it). */
  sleep: (ms: number, signal?: AbortSignal) => Promise<boolean>
}

const delivered: readonly string[] = ['sent', 'delivered', 'read', 'failed']

/** A redelivered record of this row has nothing left to do. */
export function isFinished(s: SendState): boolean {
  return s.wamid !== null || delivered.includes(s.status) || s.status === 'dead_lettered'
}

/** What a finished row (isFinished) says: Meta has the message, or it was dead-lettered. */
export function finishedOutcome(s: SendState): Extract<Outcome, { kind: 'settled' | 'finished' }> {
  return s.wamid !== null || delivered.includes(s.status) ? { kind: 'settled', state: s } : { kind: 'finished' }
}

export async function awaitOutcome(p: SettlementPorts, ref: MessageRef, signal?: AbortSignal): Promise<Outcome> {
  for (;;) {
    const s = await p.settlement.state(ref)
    // No row: nobody claimed it (a release raced with us); claiming decides.
    if (s === undefined || s.status === 'retrying') return { kind: 'claimable' }
    if (isFinished(s)) return finishedOutcome(s)
    // 'claimed' without a wamid: a live owner finishes well inside the window (it is at least twice
    // Meta's timeout), a dead one never does.
    const due = (s.claimedAt?.getTime() ?? 0) + p.reconcileWindowMs
    const left = due - p.now()
    if (left <= 0) return s.resentAt === null ? { kind: 'resend-due', attempts: s.attempts } : { kind: 'unsettled' }
    if (!(await p.sleep(Math.min(left, p.settlePollMs), signal))) return { kind: 'aborted' }
  }
}

export type SettlementEvent = 'settled_by_status' | 'resent' | 'unsettled' | 'late_status_of_resent'

/** gwb_outbound_settlement_total{outcome}: how unknown outcomes ended. */
export function settlementCounter(registry: Registry): Counter<'outcome'> {
  const name = 'gwb_outbound_settlement_total'
  const existing = registry.getSingleMetric(name)
  if (existing !== undefined) return existing as Counter<'outcome'>
  return new Counter({
    name,
    help: 'Outbound sends whose outcome was unknown: settled by a status, resent once, left unsettled; late statuses of resent messages (a duplicate went out)',
    labelNames: ['outcome'],
    registers: [registry],
  })
}
