import { randomBytes, randomUUID } from 'node:crypto'
import type { TenantSpec } from '../src/processors/tenant-spec.js'

const digits = (n: number): string => Array.from(randomBytes(n), (b) => String(b % 10)).join('')

/** A throwaway tenant of one bench run: fresh ids and secrets, so runs never meet each other's rows. */
export function benchTenant(runId: string): TenantSpec {
  return {
    id: `bench-${runId}`,
    name: `Bench ${runId}`,
    status: 'active',
    genesys: {
      integrationId: randomUUID(),
      region: 'mypurecloud.ie',
      clientId: `bench-client-${runId}`,
      clientSecret: randomBytes(16).toString('hex'),
      webhookSecret: randomBytes(24).toString('base64url'),
    },
    whatsapp: {
      phoneNumberId: `1${digits(14)}`,
      businessAccountId: `2${digits(14)}`,
      accessToken: `EAAG${randomBytes(16).toString('hex')}`,
      appSecret: randomBytes(16).toString('hex'),
      verifyToken: randomBytes(8).toString('hex'),
    },
  }
}
