import { createHash, timingSafeEqual } from 'node:crypto'
import { errorMessage, isBridgeError } from '../errors.js'
import type { Logger } from '../log.js'
import { parseMetaWebhook, splitMetaWebhook } from '../processors/split-meta-webhook.js'
import { verifyMetaSignature } from '../processors/verify-signature.js'
import type { MetaWebhookRaw, WhatsAppInboundEnvelope, WhatsAppStatusEnvelope } from '../schemas/records.generated.js'
import type { IngestTenant } from './genesys-webhook.js'
import type { IncomingRequest, Reply, Route } from './http-server.js'
import { json, jsonError } from './http-server.js'

/** What one accepted Meta POST becomes; the wiring maps each kind to its topic. */
export type MetaIngestRecord =
  | { kind: 'inbound'; key: string; value: WhatsAppInboundEnvelope }
  | { kind: 'status'; key: string; value: WhatsAppStatusEnvelope }
  | { kind: 'raw'; key: string; value: MetaWebhookRaw }

export interface MetaIngestDeps {
  /** The tenant and the app secrets accepted now (two during a rotation's overlap). */
  findByPhoneNumberId: (phoneNumberId: string) => Promise<{ tenant: IngestTenant; appSecrets: string[] } | undefined>
  /** Verify tokens of the active tenants (only `tenantId` when given). A rare call: no caching needed. */
  verifyTokens: (tenantId: string | undefined) => Promise<string[]>
  /** Resolves after Kafka acknowledged every record (acks=all); rejects when it cannot take them. */
  produce: (records: MetaIngestRecord[]) => Promise<void>
  log: Logger
}

export const metaSignatureHeader = 'x-hub-signature-256'

/**
 * GET /webhook/meta (verification handshake) and POST /webhook/meta (messages and statuses).
 * Unknown phone number ids answer 404: Meta retries any non-200 for days, so the code only
 * matters to the operator reading it, and "not found" says what is wrong.
 */
export function metaWebhookRoutes(deps: MetaIngestDeps): Route[] {
  return [
    {
      method: 'GET',
      path: '/webhook/meta',
      name: 'meta_verify',
      headers: [],
      handler: (req) => handleMetaVerify(req, deps),
    },
    {
      method: 'POST',
      path: '/webhook/meta',
      name: 'meta_webhook',
      headers: [metaSignatureHeader, 'content-type'],
      handler: (req) => handleMetaWebhook(req, deps),
    },
  ]
}

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest()

/** Constant time whatever the lengths: both sides are hashed to 32 bytes first. */
function tokenMatches(given: string, expected: string): boolean {
  return expected !== '' && timingSafeEqual(digest(given), digest(expected))
}

export async function handleMetaVerify(req: IncomingRequest, deps: MetaIngestDeps): Promise<Reply> {
  const mode = req.query.get('hub.mode')
  const token = req.query.get('hub.verify_token')
  const challenge = req.query.get('hub.challenge')
  if (mode !== 'subscribe' || token === null || challenge === null) {
    return jsonError(403, 'verification_failed', 'expected hub.mode=subscribe, hub.verify_token and hub.challenge')
  }
  let tokens: string[]
  try {
    tokens = await deps.verifyTokens(req.query.get('tenant') ?? undefined)
  } catch (err) {
    deps.log.error({ err: errorMessage(err) }, 'verify token lookup failed')
    return jsonError(503, 'unavailable', 'tenant directory unavailable; retry later')
  }
  // Every token is compared (no early exit), so the answer time does not tell which tenant matched.
  let matched = false
  for (const expected of tokens) matched = tokenMatches(token, expected) || matched
  if (!matched) return jsonError(403, 'verification_failed', 'hub.verify_token does not match')
  return { status: 200, body: challenge, contentType: 'text/plain' }
}

export async function handleMetaWebhook(req: IncomingRequest, deps: MetaIngestDeps): Promise<Reply> {
  const parsed = parseMetaWebhook(req.body, Number.MAX_SAFE_INTEGER)
  if (!parsed.ok) return jsonError(400, 'malformed_payload', parsed.reason)
  const split = splitMetaWebhook(parsed.value)
  if (split.phoneNumberIds.length === 0) {
    // No messages change (another webhook field): nothing names a tenant, nothing to carry.
    return json(200, { status: 'ignored', reason: 'no messages change in the payload' })
  }

  const tenants = new Map<string, IngestTenant>()
  const byPhone = new Map<string, IngestTenant>()
  for (const phoneNumberId of split.phoneNumberIds) {
    let found: Awaited<ReturnType<MetaIngestDeps['findByPhoneNumberId']>>
    try {
      found = await deps.findByPhoneNumberId(phoneNumberId)
    } catch (err) {
      deps.log.error({ err: errorMessage(err) }, 'tenant lookup failed')
      return jsonError(503, 'unavailable', 'tenant directory unavailable; retry later')
    }
    if (found === undefined) {
      return jsonError(404, 'unknown_phone_number', `phone number id ${phoneNumberId} is not configured`)
    }
    // A payload spanning several tenants must carry a signature every one of them accepts.
    if (!verifyMetaSignature(req.body, req.headers[metaSignatureHeader], found.appSecrets)) {
      return jsonError(401, 'bad_signature', 'X-Hub-Signature-256 does not match the body (sha256=<hex HMAC>)')
    }
    tenants.set(found.tenant.id, found.tenant)
    byPhone.set(phoneNumberId, found.tenant)
  }
  for (const tenant of tenants.values()) {
    if (tenant.status !== 'active') return jsonError(403, 'tenant_inactive', `tenant ${tenant.id} is inactive`)
  }

  const receivedAtMs = Math.round(req.receivedAtMs)
  const tenantOf = (phoneNumberId: string): string => (byPhone.get(phoneNumberId) as IngestTenant).id
  const records: MetaIngestRecord[] = []
  for (const m of split.messages) {
    const tenantId = tenantOf(m.phoneNumberId)
    records.push({
      kind: 'inbound',
      key: `${tenantId}:${m.waId}`,
      value: {
        tenantId,
        phoneNumberId: m.phoneNumberId,
        waId: m.waId,
        wamid: m.wamid,
        profileName: m.profileName ?? null,
        timestampMs: m.timestampMs,
        receivedAtMs,
        item: Buffer.from(m.json, 'utf8'),
        attempt: 0,
        resend: false,
      },
    })
  }
  for (const s of split.statuses) {
    const tenantId = tenantOf(s.phoneNumberId)
    records.push({
      kind: 'status',
      key: `${tenantId}:${s.waId}`,
      value: {
        tenantId,
        phoneNumberId: s.phoneNumberId,
        waId: s.waId,
        wamid: s.wamid,
        status: s.status.status,
        timestampMs: s.timestampMs,
        receivedAtMs,
        item: Buffer.from(s.json, 'utf8'),
        attempt: 0,
      },
    })
  }
  for (const e of split.errors) {
    // Webhook-level errors (130429 and the like) concern no single message: visible in the log and archive.
    deps.log.warn({ phoneNumberId: e.phoneNumberId, code: e.error.code, title: e.error.title }, 'Meta webhook error')
  }
  const signature = req.headers[metaSignatureHeader] ?? ''
  for (const tenantId of tenants.keys()) {
    records.push({
      kind: 'raw',
      key: tenantId,
      value: { tenantId, receivedAtMs, payload: req.body, signature: signature === '' ? null : signature },
    })
  }

  try {
    await deps.produce(records)
  } catch (err) {
    deps.log.warn({ err: errorMessage(err), code: isBridgeError(err) ? err.code : undefined }, 'produce failed')
    return jsonError(503, 'unavailable', 'the webhook could not be stored; retry later')
  }
  return json(200, { status: 'accepted', messages: split.messages.length, statuses: split.statuses.length })
}
