/** What the check needs of a received send (the fake's own record, or its summary over IPC). */
interface Received {
  accepted: boolean
  body: unknown
}

/**
 * Waits until every message reached Meta (accepted by the fake, whatever it answered), then returns
 * what arrived, in arrival order, for the caller to check: once each, in order per conversation.
 */
export async function waitDelivered<R extends Received>(opts: {
  received: () => R[] | Promise<R[]>
  /** Message text → Genesys message id, for every message sent. */
  idOf: Map<string, string>
  mine: (r: R) => boolean
  timeoutMs: number
}): Promise<{ texts: string[]; missing: string[] }> {
  const deadline = Date.now() + opts.timeoutMs
  for (;;) {
    const texts = (await opts.received())
      .filter((r) => r.accepted && opts.mine(r))
      .map((r) => (r.body as { text: { body: string } }).text.body)
    const seen = new Set(texts)
    const missing = [...opts.idOf.keys()].filter((text) => !seen.has(text))
    if (missing.length === 0 || Date.now() > deadline) return { texts, missing }
    await new Promise((r) => setTimeout(r, 200))
  }
}

/** Conversations (by the ` c<n> m<i>` naming of the traffic) whose messages arrived out of order. */
export function disorderedConversations(texts: string[]): [number, number[]][] {
  const seqs = new Map<number, number[]>()
  for (const x of texts) {
    const m = /c(\d+) m(\d+)$/.exec(x)
    if (m === null) continue
    const c = Number(m[1])
    seqs.set(c, [...(seqs.get(c) ?? []), Number(m[2])])
  }
  return [...seqs].filter(([, s]) => s.some((v, i) => i > 0 && v < (s[i - 1] as number)))
}
