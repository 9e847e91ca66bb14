import { errorMessage, isBridgeError } from '../errors.js'
import type { Logger } from '../log.js'
import { integrationIdProblem } from '../processors/ids.js'
import { outboundEnvelope } from '../processors/outbound-envelope.js'
import { parseGenesysWebhook } from '../processors/parse-genesys-webhook.js'
import { verifyGenesysSignature } from '../processors/verify-signature.js'
import type { GenesysOutboundEnvelope } from '../schemas/records.generated.js'
import { invalidId, json, jsonError, unavailable, type IncomingRequest, type Reply, type Route } from './routes.js'

export interface IngestTenant {
  id: string
  status: 'active' | 'inactive'
}

export interface GenesysIngestDeps {
  /** The tenant and the webhook secrets accepted now (two during a rotation's overlap). */
  findByIntegrationId: (
    integrationId: string,
  ) => Promise<{ tenant: IngestTenant; webhookSecrets: string[] } | undefined>
  /** Resolves after Kafka acknowledged (acks=all); rejects when it cannot take the record. */
  produce: (key: string, value: GenesysOutboundEnvelope) => Promise<void>
  log: Logger
}

export const genesysSignatureHeader = 'x-hub-signature-256'

/**
 * One answer for an unknown integration id and a bad signature, so the ids cannot be enumerated;
 * the operator tells them apart by `refusal` (the gwb_ingest_refusals_total label) and the log.
 */
const unauthorized = (refusal: 'unknown_id' | 'bad_signature'): Reply => ({
  ...jsonError(401, 'bad_signature', 'X-Hub-Signature-256 does not match the body (sha256=<base64 HMAC>)'),
  refusal,
})

/**
 * POST /webhook/genesys and POST /webhook/genesys/{integrationId}. Answers 200 only after Kafka
 * holds the record, 503 when it cannot, so Genesys retries (it retries on timeout, 429 and 5xx
 * only). Every other refusal is a 4xx with a JSON reason. With the integration id in the path the
 * secret is known before parsing: the signature is checked on the raw bytes first and the JSON is
 * parsed only for a signed body, which must then name the same integration.
 */
export function genesysWebhookRoutes(deps: GenesysIngestDeps): Route[] {
  const route = (path: string): Route => ({
    method: 'POST',
    path,
    name: 'genesys_webhook',
    headers: [genesysSignatureHeader, 'content-type'],
    handler: (req) => handleGenesysWebhook(req, deps),
  })
  return [route('/webhook/genesys'), route('/webhook/genesys/:integrationId')]
}

type Authorized = { ok: true; tenant: IngestTenant } | { ok: false; reply: Reply }

/** Tenant lookup and the signature check: the one place a webhook secret is compared. */
async function authorize(req: IncomingRequest, integrationId: string, deps: GenesysIngestDeps): Promise<Authorized> {
  const problem = integrationIdProblem(integrationId)
  if (problem !== undefined) return { ok: false, reply: invalidId('the integration id', problem) }
  let found: Awaited<ReturnType<GenesysIngestDeps['findByIntegrationId']>>
  try {
    found = await deps.findByIntegrationId(integrationId)
  } catch (err) {
    deps.log.error({ err: errorMessage(err) }, 'tenant lookup failed')
    return { ok: false, reply: unavailable('tenant directory unavailable') }
  }
  if (found === undefined) {
    deps.log.info({ integrationId: integrationId.slice(0, 64) }, 'webhook for an unknown integration id')
    return { ok: false, reply: unauthorized('unknown_id') }
  }
  if (!verifyGenesysSignature(req.body, req.headers[genesysSignatureHeader], found.webhookSecrets)) {
    deps.log.info({ tenantId: found.tenant.id }, 'webhook with a bad signature')
    return { ok: false, reply: unauthorized('bad_signature') }
  }
  if (found.tenant.status !== 'active') {
    return { ok: false, reply: jsonError(403, 'tenant_inactive', `tenant ${found.tenant.id} is inactive`) }
  }
  return { ok: true, tenant: found.tenant }
}

export async function handleGenesysWebhook(req: IncomingRequest, deps: GenesysIngestDeps): Promise<Reply> {
  const hint = req.params['integrationId']
  const early = hint === undefined ? undefined : await authorize(req, hint, deps)
  if (early?.ok === false) return early.reply
  const parsed = parseGenesysWebhook(req.body, Number.MAX_SAFE_INTEGER)
  if (!parsed.ok) return jsonError(400, 'malformed_payload', parsed.reason)
  const msg = parsed.value
  if (hint !== undefined && msg.channel.id !== hint) {
    return jsonError(400, 'integration_mismatch', 'channel.id does not name the integration of the path')
  }
  const auth = early ?? (await authorize(req, msg.channel.id, deps))
  if (!auth.ok) return auth.reply

  const { key, env } = outboundEnvelope(msg, {
    tenantId: auth.tenant.id,
    receivedAtMs: req.receivedAtMs,
    payload: req.body,
    resend: false,
  })
  try {
    await deps.produce(key, env)
  } catch (err) {
    deps.log.warn({ err: errorMessage(err), code: isBridgeError(err) ? err.code : undefined }, 'produce failed')
    return unavailable('the message could not be stored')
  }
  return json(200, { status: 'accepted', id: msg.id })
}
