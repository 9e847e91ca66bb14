import type { ReceivedMessage } from '../../src/fakes/fake-meta.js'
import type { BridgeErrorEvent } from '../../src/schemas/records.generated.js'

/**
 * After a SIGKILL, a message claimed by the killed process but not yet on the wire is "in doubt":
 * Meta has no idempotency key, so the bridge does not resend it (that could double it) and reports
 * it on the errors topic instead. Waits until every message is delivered or reported in doubt.
 */
export async function waitDeliveredOrInDoubt(opts: {
  received: () => ReceivedMessage[]
  errors: BridgeErrorEvent[]
  /** Message text → Genesys message id, for every message sent. */
  idOf: Map<string, string>
  mine: (r: ReceivedMessage) => boolean
  timeoutMs: number
}): Promise<{ texts: string[]; inDoubt: Set<string>; missing: string[] }> {
  const deadline = Date.now() + opts.timeoutMs
  for (;;) {
    const texts = opts
      .received()
      .filter(opts.mine)
      .map((r) => (r.body as { text: { body: string } }).text.body)
    const seen = new Set(texts)
    const inDoubt = new Set(opts.errors.filter((e) => e.code === 'GWB_SEND_IN_DOUBT').map((e) => e.messageId ?? ''))
    const missing = [...opts.idOf].filter(([text, id]) => !seen.has(text) && !inDoubt.has(id)).map(([text]) => text)
    if (missing.length === 0 || Date.now() > deadline) return { texts, inDoubt, missing }
    await new Promise((r) => setTimeout(r, 200))
  }
}
