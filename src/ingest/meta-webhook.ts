import { createHash, timingSafeEqual } from 'node:crypto'
import { errorMessage, isBridgeError } from '../errors.js'
import type { Logger } from '../log.js'
import { phoneNumberIdProblem, tenantIdProblem } from '../processors/ids.js'
import { parseMetaWebhook, splitMetaWebhook } from '../processors/split-meta-webhook.js'
import { verifyMetaSignature } from '../processors/verify-signature.js'
import type { MetaWebhookRaw, WhatsAppInboundEnvelope, WhatsAppStatusEnvelope } from '../schemas/records.generated.js'
import type { IngestTenant } from './genesys-webhook.js'
import { invalidId, json, jsonError, unavailable, type IncomingRequest, type Reply, type Route } from './routes.js'

/** What one accepted Meta POST becomes; the wiring maps each kind to its topic. */
export type MetaIngestRecord =
  | { kind: 'inbound'; key: string; value: WhatsAppInboundEnvelope }
  | { kind: 'status'; key: string; value: WhatsAppStatusEnvelope }
  | { kind: 'raw'; key: string; value: MetaWebhookRaw }

export interface MetaIngestDeps {
  findByPhoneNumberId: (phoneNumberId: string) => Promise<{ tenant: IngestTenant; appSecrets: string[] } | undefined>
  /**
   * Verify tokens of the active tenants, or of the one tenant named by id or phone number id (none
   * when it is unknown or inactive). Cached: a flood of handshakes must not read every tenant.
   */
  verifyTokens: (scope: { tenantId?: string; phoneNumberId?: string }) => Promise<string[]>
  /** Resolves after Kafka acknowledged every record (acks=all); rejects when it cannot take them. */
  produce: (records: MetaIngestRecord[]) => Promise<void>
  log: Logger
}

export const metaSignatureHeader = 'x-hub-signature-256'

/**
 * GET and POST on /webhook/meta and /webhook/meta/{phoneNumberId}: the verification handshake, and
 * webhooks of every field. The path form names the tenant before the body is read (subscribe with
 * it to have fields other than `messages` archived).
 */
export function metaWebhookRoutes(deps: MetaIngestDeps): Route[] {
  return ['/webhook/meta', '/webhook/meta/:phoneNumberId'].flatMap((path): Route[] => [
    { method: 'GET', path, name: 'meta_verify', headers: [], handler: (req) => handleMetaVerify(req, deps) },
    {
      method: 'POST',
      path,
      name: 'meta_webhook',
      headers: [metaSignatureHeader, 'content-type'],
      handler: (req) => handleMetaWebhook(req, deps),
    },
  ])
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
  const phoneNumberId = req.params['phoneNumberId']
  const problem = phoneNumberId === undefined ? undefined : phoneNumberIdProblem(phoneNumberId)
  if (problem !== undefined) return invalidId('the phone number id', problem)
  const tenantId = req.query.get('tenant') ?? undefined
  const tenantProblem = tenantId === undefined ? undefined : tenantIdProblem(tenantId)
  if (tenantProblem !== undefined) return invalidId('the tenant id', tenantProblem)
  let tokens: string[]
  try {
    tokens = await deps.verifyTokens({ tenantId, phoneNumberId })
  } catch (err) {
    deps.log.error({ err: errorMessage(err) }, 'verify token lookup failed')
    return unavailable('tenant directory unavailable')
  }
  // Every token is compared (no early exit), so the answer time does not tell which tenant matched.
  let matched = false
  for (const expected of tokens) matched = tokenMatches(token, expected) || matched
  if (!matched) return jsonError(403, 'verification_failed', 'hub.verify_token does not match')
  return { status: 200, body: challenge, contentType: 'text/plain' }
}

type Found = NonNullable<Awaited<ReturnType<MetaIngestDeps['findByPhoneNumberId']>>>

/** One answer for an unknown phone number id, no id at all, and a bad signature (no enumeration). */
const unauthorized = (refusal: 'unknown_id' | 'no_id' | 'bad_signature'): Reply => ({
  ...jsonError(401, 'bad_signature', 'X-Hub-Signature-256 does not match the body (sha256=<hex HMAC>)'),
  refusal,
})

/** Tenant lookup and the signature check: the one place an app secret is compared. */
async function authorize(
  req: IncomingRequest,
  phoneNumberId: string,
  deps: MetaIngestDeps,
): Promise<{ ok: true; found: Found } | { ok: false; reply: Reply }> {
  const problem = phoneNumberIdProblem(phoneNumberId)
  if (problem !== undefined) return { ok: false, reply: invalidId('the phone number id', problem) }
  let found: Found | undefined
  try {
    found = await deps.findByPhoneNumberId(phoneNumberId)
  } catch (err) {
    deps.log.error({ err: errorMessage(err) }, 'tenant lookup failed')
    return { ok: false, reply: unavailable('tenant directory unavailable') }
  }
  if (found === undefined) {
    deps.log.info({ phoneNumberId }, 'webhook for an unknown phone number id')
    return { ok: false, reply: unauthorized('unknown_id') }
  }
  if (!verifyMetaSignature(req.body, req.headers[metaSignatureHeader], found.appSecrets)) {
    deps.log.info({ tenantId: found.tenant.id }, 'webhook with a bad signature')
    return { ok: false, reply: unauthorized('bad_signature') }
  }
  return { ok: true, found }
}

/**
 * Every POST is verified and archived whatever its field. With the phone number id in the path the
 * signature is checked on the raw bytes before parsing, and the body may name no other number (a
 * field other than `messages` names none and is archived under the path's tenant). Without it the
 * body must name a number: a payload that names none cannot be verified, so it is refused.
 */
export async function handleMetaWebhook(req: IncomingRequest, deps: MetaIngestDeps): Promise<Reply> {
  const hint = req.params['phoneNumberId']
  const early = hint === undefined ? undefined : await authorize(req, hint, deps)
  if (early?.ok === false) return early.reply
  const parsed = parseMetaWebhook(req.body, Number.MAX_SAFE_INTEGER)
  if (!parsed.ok) return jsonError(400, 'malformed_payload', parsed.reason)
  const split = splitMetaWebhook(parsed.value)
  if (hint !== undefined && split.phoneNumberIds.some((id) => id !== hint)) {
    return jsonError(400, 'phone_number_mismatch', 'the body names a phone number id other than the path')
  }
  if (early === undefined && split.phoneNumberIds.length === 0) return unauthorized('no_id')

  const tenants = new Map<string, IngestTenant>()
  const byPhone = new Map<string, IngestTenant>()
  if (early !== undefined && hint !== undefined) {
    tenants.set(early.found.tenant.id, early.found.tenant)
    byPhone.set(hint, early.found.tenant)
  }
  // A payload spanning several tenants must carry a signature every one of them accepts.
  for (const phoneNumberId of split.phoneNumberIds) {
    if (byPhone.has(phoneNumberId)) continue
    const auth = await authorize(req, phoneNumberId, deps)
    if (!auth.ok) return auth.reply
    tenants.set(auth.found.tenant.id, auth.found.tenant)
    byPhone.set(phoneNumberId, auth.found.tenant)
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
    return unavailable('the webhook could not be stored')
  }
  return json(200, { status: 'accepted', messages: split.messages.length, statuses: split.statuses.length })
}
