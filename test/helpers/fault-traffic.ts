/**
 * Outbound traffic for the fault tests: conversations post their messages one after another like
 * Genesys does (the next one after the previous was acknowledged), and a refused webhook (503, 5xx,
 * no answer) is posted again after a pause, as Genesys retries timeouts, 429 and 5xx. What the
 * fake Meta received is then checked: every acknowledged message once, in order per conversation.
 */
import { randomUUID } from 'node:crypto'
import type { Test } from 'tap'
import type { ReceivedMessage } from '../../src/fakes/fake-meta.js'
import type { Harness } from './bridge-harness.js'

export interface TrafficStats {
  /** Webhooks answered 200 (each message counts once, however many posts it took). */
  acked: number
  /** Posts answered 503 / other non-200 / not answered at all. */
  refused503: number
  refusedOther: number
  noAnswer: number
  /** Time of the first and last refusal (ms since epoch), to relate them to the fault window. */
  firstRefusalAt?: number
  lastRefusalAt?: number
  /** Longest time one post took to be answered, ms. */
  slowestPostMs: number
}

export interface Traffic {
  readonly run: string
  readonly total: number
  readonly stats: TrafficStats
  /** Resolves once every message was acknowledged with 200. */
  readonly done: Promise<void>
  waIdOf: (c: number) => string
  /** The Genesys message id of a message by its text. */
  messageIdOf: (text: string) => string | undefined
  /** Every message's text, in the order each conversation posts them. */
  readonly texts: readonly string[]
  /** Accepted sends at the fake Meta that belong to this traffic. */
  mine: (r: ReceivedMessage) => boolean
}

export function startTraffic(
  h: Harness,
  opts: { conversations: number; perConversation: number; pauseMs: number; waPrefix: string },
): Traffic {
  const run = randomUUID().slice(0, 8)
  const stats: TrafficStats = { acked: 0, refused503: 0, refusedOther: 0, noAnswer: 0, slowestPostMs: 0 }
  const waIdOf = (c: number): string => `${opts.waPrefix}${String(c).padStart(12 - opts.waPrefix.length, '0')}`
  const ids = new Map<string, string>()
  const texts = Array.from({ length: opts.conversations }, (_, c) =>
    Array.from({ length: opts.perConversation }, (_, m) => `${run} c${c} m${m}`),
  ).flat()
  const refused = (): void => {
    const now = Date.now()
    stats.firstRefusalAt ??= now
    stats.lastRefusalAt = now
  }
  const done = Promise.all(
    Array.from({ length: opts.conversations }, async (_, c) => {
      const conversationId = randomUUID()
      for (let m = 0; m < opts.perConversation; m++) {
        const body = h.genesys.buildOutbound({
          integrationId: h.tenant.genesys.integrationId,
          conversationId,
          toId: waIdOf(c),
          text: `${run} c${c} m${m}`,
        })
        ids.set(`${run} c${c} m${m}`, (body as { id: string }).id)
        for (;;) {
          const started = Date.now()
          const res = await h.postGenesys(body).catch(() => undefined)
          stats.slowestPostMs = Math.max(stats.slowestPostMs, Date.now() - started)
          if (res?.status === 200) break
          if (res === undefined) stats.noAnswer++
          else if (res.status === 503) stats.refused503++
          else stats.refusedOther++
          refused()
          await new Promise((r) => setTimeout(r, 500))
        }
        stats.acked++
        await new Promise((r) => setTimeout(r, opts.pauseMs))
      }
    }),
  ).then(() => undefined)
  return {
    run,
    total: opts.conversations * opts.perConversation,
    stats,
    done,
    waIdOf,
    messageIdOf: (text) => ids.get(text),
    texts,
    mine: (r) => r.status === 200 && r.raw.includes(run),
  }
}

export interface DeliveryCounts {
  acked: number
  delivered: number
  distinct: number
  duplicates: number
  lost: number
  outOfOrder: number
}

/**
 * Waits until every acknowledged message reached Meta (or the timeout), then asserts and returns
 * the counts. `opts.diagnose`: lines explaining the missing messages, printed when any are missing.
 */
export async function checkDelivery(
  t: Test,
  h: Harness,
  tr: Traffic,
  timeoutMs: number,
  opts: { diagnose?: (missing: string[]) => Promise<string[]> } = {},
): Promise<DeliveryCounts> {
  await tr.done
  await h.meta.waitForCount(tr.total, tr.mine, timeoutMs).catch(() => undefined)
  // A moment more, so a late duplicate would be seen too.
  await new Promise((r) => setTimeout(r, 1500))
  const texts = h.meta.received.filter(tr.mine).map((r) => (r.body as { text: { body: string } }).text.body)
  const distinct = new Set(texts).size
  let outOfOrder = 0
  const conversations = new Map<string, number[]>()
  for (const x of texts) {
    const m = / (c\d+) m(\d+)$/.exec(x)
    if (m === null) continue
    const seq = conversations.get(m[1] as string) ?? []
    seq.push(Number(m[2]))
    conversations.set(m[1] as string, seq)
  }
  for (const seq of conversations.values()) if (seq.some((v, i) => i > 0 && v < (seq[i - 1] as number))) outOfOrder++
  const counts: DeliveryCounts = {
    acked: tr.stats.acked,
    delivered: texts.length,
    distinct,
    duplicates: texts.length - distinct,
    lost: tr.stats.acked - distinct,
    outOfOrder,
  }
  t.equal(tr.stats.acked, tr.total, 'every webhook acknowledged in the end')
  t.equal(distinct, tr.total, 'every acknowledged message delivered')
  if (distinct < tr.total && opts.diagnose !== undefined) {
    const got = new Set(texts)
    const missing = tr.texts.filter((x) => !got.has(x))
    for (const line of await opts.diagnose(missing)) t.comment(line)
  }
  t.equal(counts.duplicates, 0, 'none delivered twice')
  t.equal(outOfOrder, 0, 'order kept in every conversation')
  t.comment(`counts ${JSON.stringify(counts)} traffic ${JSON.stringify(tr.stats)}`)
  return counts
}
