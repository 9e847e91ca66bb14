/**
 * Webhook signing secrets (the Genesys webhook secret, the Meta app secret) under rotation. A
 * replaced secret stays accepted until its overlap ends, because webhooks signed with it are still
 * on their way (and Genesys does not retry a 401): rotate in the bridge first, then on the platform.
 * Pure rules; the stored form lives in the encrypted credentials, so the old secret stays encrypted.
 */
export interface RetiringSecret {
  secret: string
  /** End of the overlap, epoch milliseconds: from then on only the current secret verifies. */
  until: number
}

/** Stored JSON is checked, not trusted: anything else is no previous secret at all. */
export function isRetiringSecret(v: unknown): v is RetiringSecret {
  if (typeof v !== 'object' || v === null) return false
  const r = v as Record<string, unknown>
  return typeof r['secret'] === 'string' && typeof r['until'] === 'number'
}

/** The secrets a webhook may be signed with at `nowMs`: the current one first. */
export function acceptedSecrets(current: string, previous: RetiringSecret | undefined, nowMs: number): string[] {
  return previous !== undefined && nowMs < previous.until && previous.secret !== current
    ? [current, previous.secret]
    : [current]
}

/**
 * The previous secret after a rotation from `before` to `after`. A changed secret retires the one
 * it replaces for `overlapMs` (0: at once); only one previous secret is kept, so rotating again
 * inside a window ends the older secret's window. An unchanged secret keeps a running window.
 */
export function retireSecret(
  before: string,
  after: string,
  kept: RetiringSecret | undefined,
  overlapMs: number,
  nowMs: number,
): RetiringSecret | undefined {
  if (after === before) return kept !== undefined && kept.until > nowMs ? kept : undefined
  return overlapMs > 0 ? { secret: before, until: nowMs + overlapMs } : undefined
}
