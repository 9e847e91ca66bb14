import { genesysWebhookRoutes, type GenesysIngestDeps } from '../ingest/genesys-webhook.js'
import type { Route } from '../ingest/routes.js'
import { metaWebhookRoutes, type MetaIngestRecord } from '../ingest/meta-webhook.js'
import type { Logger } from '../log.js'
import type { OutRecord } from '../sinks/kafka/record-producer.js'
import { traceRoute } from '../ingest/trace-route.js'
import { annotateActive, idAttributes } from '../tracing/spans.js'
import type { Resources } from './resources.js'

/** The tenant of a Genesys webhook and the webhook secrets it may be signed with now. */
export function genesysTenantLookup(r: Pick<Resources, 'directory'>): GenesysIngestDeps['findByIntegrationId'] {
  return async (integrationId) => {
    const tenant = await r.directory.byIntegrationId(integrationId)
    if (tenant === undefined) return undefined
    const webhookSecrets = await r.directory.signingSecrets(tenant.id, 'genesys')
    return webhookSecrets === undefined ? undefined : { tenant, webhookSecrets }
  }
}

/** The webhook routes of the ingest role: signed requests in, records on their topics out. */
export function ingestRoutes(r: Resources, log: Logger): Route[] {
  const t = r.config.kafka.topics
  return [
    ...genesysWebhookRoutes({
      log: log.child({ route: 'genesys' }),
      findByIntegrationId: genesysTenantLookup(r),
      produce: (key, value) => {
        annotateActive(idAttributes(value))
        return r.producer.send({ topic: t.genesysOutbound, key, value: r.codec.encode(t.genesysOutbound, value) })
      },
    }),
    ...metaWebhookRoutes({
      log: log.child({ route: 'meta' }),
      findByPhoneNumberId: async (phoneNumberId) => {
        const tenant = await r.directory.byPhoneNumberId(phoneNumberId)
        if (tenant === undefined) return undefined
        const appSecrets = await r.directory.signingSecrets(tenant.id, 'whatsapp')
        return appSecrets === undefined ? undefined : { tenant, appSecrets }
      },
      verifyTokens: async ({ tenantId, phoneNumberId }) => {
        if (phoneNumberId === undefined) {
          const all = await r.directory.activeVerifyTokens()
          return all.filter((x) => tenantId === undefined || x.tenantId === tenantId).map((x) => x.verifyToken)
        }
        const tenant = await r.directory.byPhoneNumberId(phoneNumberId)
        if (tenant === undefined || tenant.status !== 'active' || (tenantId ?? tenant.id) !== tenant.id) return []
        const creds = await r.directory.whatsappCredentials(tenant.id)
        return creds === undefined ? [] : [creds.verifyToken]
      },
      produce: (records) => {
        annotateActive(idAttributes(records[0]?.value))
        return r.producer.sendAll(records.map((rec) => metaRecord(r, rec)))
      },
    }),
  ].map(traceRoute)
}

function metaRecord(r: Resources, rec: MetaIngestRecord): OutRecord {
  const t = r.config.kafka.topics
  switch (rec.kind) {
    case 'inbound':
      return { topic: t.whatsappInbound, key: rec.key, value: r.codec.encode(t.whatsappInbound, rec.value) }
    case 'status':
      return { topic: t.whatsappStatus, key: rec.key, value: r.codec.encode(t.whatsappStatus, rec.value) }
    case 'raw':
      return { topic: t.whatsappRaw, key: rec.key, value: r.codec.encode(t.whatsappRaw, rec.value) }
  }
}
