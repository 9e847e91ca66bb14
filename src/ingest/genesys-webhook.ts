import { errorMessage, isBridgeError } from '../errors.js'
import type { Logger } from '../log.js'
import { outboundEnvelope } from '../processors/outbound-envelope.js'
import { parseGenesysWebhook } from '../processors/parse-genesys-webhook.js'
import { verifyGenesysSignature } from '../processors/verify-signature.js'
import type { GenesysOutboundEnvelope } from '../schemas/records.generated.js'
import type { IncomingRequest, Reply, Route } from './http-server.js'
import { json, jsonError } from './http-server.js'

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
 * POST /webhook/genesys. Answers 200 only after Kafka holds the record, 503 when it cannot, so
 * Genesys retries (it retries on timeout, 429 and 5xx only). Every other refusal is a 4xx with
 * a JSON reason. Nothing reaches the topic unless the signature matched an active tenant.
 */
export function genesysWebhookRoute(deps: GenesysIngestDeps): Route {
  return {
    method: 'POST',
    path: '/webhook/genesys',
    name: 'genesys_webhook',
    headers: [genesysSignatureHeader, 'content-type'],
    handler: (req) => handleGenesysWebhook(req, deps),
  }
}

export async function handleGenesysWebhook(req: IncomingRequest, deps: GenesysIngestDeps): Promise<Reply> {
  const parsed = parseGenesysWebhook(req.body, Number.MAX_SAFE_INTEGER)
  if (!parsed.ok) return jsonError(400, 'malformed_payload', parsed.reason)
  const msg = parsed.value
  let found: Awaited<ReturnType<GenesysIngestDeps['findByIntegrationId']>>
  try {
    found = await deps.findByIntegrationId(msg.channel.id)
  } catch (err) {
    deps.log.error({ err: errorMessage(err) }, 'tenant lookup failed')
    return jsonError(503, 'unavailable', 'tenant directory unavailable; retry later')
  }
  if (found === undefined)
    return jsonError(403, 'unknown_integration', `integration ${msg.channel.id} is not configured`)
  if (!verifyGenesysSignature(req.body, req.headers[genesysSignatureHeader], found.webhookSecrets)) {
    return jsonError(401, 'bad_signature', 'X-Hub-Signature-256 does not match the body (sha256=<base64 HMAC>)')
  }
  if (found.tenant.status !== 'active')
    return jsonError(403, 'tenant_inactive', `tenant ${found.tenant.id} is inactive`)

  const { key, env } = outboundEnvelope(msg, {
    tenantId: found.tenant.id,
    receivedAtMs: req.receivedAtMs,
    payload: req.body,
    resend: false,
  })
  try {
    await deps.produce(key, env)
  } catch (err) {
    deps.log.warn({ err: errorMessage(err), code: isBridgeError(err) ? err.code : undefined }, 'produce failed')
    return jsonError(503, 'unavailable', 'the message could not be stored; retry later')
  }
  return json(200, { status: 'accepted', id: msg.id })
}
