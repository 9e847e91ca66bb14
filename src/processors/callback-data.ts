/**
 * `biz_opaque_callback_data` of an outbound send: names the bridge's message so a status webhook
 * of that message can settle a send whose answer the bridge never saw (facts §3.1: a string of up to
 * 512 characters, echoed in the `statuses` of that message; that Meta echoes it on `failed`
 * statuses too is UNCONFIRMED, so a `failed` status without it is handled as before: by wamid).
 *
 * Format: `gwb1:<tenantId>:<genesysMessageId>`, and `gwb1r:…` on the bridge's one automatic resend, so
 * a status tells which copy it is of. Tenant ids are `[a-z0-9-]` (no colon), so the first two colons
 * split it whatever the message id holds. The version prefix lets a later format coexist.
 */

export const CALLBACK_DATA_MAX = 512
const PREFIX = 'gwb1:'
const RESEND_PREFIX = 'gwb1r:'
const TENANT = /^[a-z0-9-]{1,63}$/

export interface CallbackRef {
  tenantId: string
  messageId: string
  /** The bridge's automatic resend, not the first send. */
  resend: boolean
}

/** undefined when it would not fit Meta's limit: such a send is settled by resend only. */
export function callbackDataFor(ref: CallbackRef): string | undefined {
  if (!TENANT.test(ref.tenantId) || ref.messageId.length === 0) return undefined
  const s = `${ref.resend ? RESEND_PREFIX : PREFIX}${ref.tenantId}:${ref.messageId}`
  return [...s].length <= CALLBACK_DATA_MAX ? s : undefined
}

/** Untrusted (it arrives in a webhook): anything not in our format is ignored. */
export function parseCallbackData(v: unknown): CallbackRef | undefined {
  if (typeof v !== 'string' || v.length > CALLBACK_DATA_MAX * 2) return undefined
  const resend = v.startsWith(RESEND_PREFIX)
  if (!resend && !v.startsWith(PREFIX)) return undefined
  const rest = v.slice(resend ? RESEND_PREFIX.length : PREFIX.length)
  const colon = rest.indexOf(':')
  if (colon <= 0) return undefined
  const tenantId = rest.slice(0, colon)
  const messageId = rest.slice(colon + 1)
  if (!TENANT.test(tenantId) || messageId.length === 0) return undefined
  return { tenantId, messageId, resend }
}

/** The callback data of one raw status item (`value.statuses[i]` as JSON bytes), if ours. */
export function callbackOfStatusItem(item: Buffer): CallbackRef | undefined {
  let parsed: unknown
  try {
    parsed = JSON.parse(item.toString('utf8'))
  } catch {
    return undefined
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined
  return parseCallbackData((parsed as Record<string, unknown>)['biz_opaque_callback_data'])
}
