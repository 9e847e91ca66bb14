import { randomBytes, randomUUID } from 'node:crypto'
import type { TenantSpec } from '../../src/processors/tenant-spec.js'
import type { Sql } from '../../src/sinks/db/client.js'
import { upsertTenant } from '../../src/sinks/db/tenants.js'

const digits = (n: number): string => Array.from(randomBytes(n), (b) => String(b % 10)).join('')

/** A tenant of its own for a test: fresh ids, numbers and secrets. */
export function tenantSpec(): TenantSpec {
  const id = `t-${randomUUID().slice(0, 12)}`
  return {
    id,
    name: `Test ${id}`,
    status: 'active',
    genesys: {
      integrationId: `int-${randomUUID()}`,
      region: 'mypurecloud.ie',
      clientId: `client-${id}`,
      clientSecret: `client-secret-${randomUUID()}`,
      webhookSecret: `webhook-secret-${randomUUID()}`,
    },
    whatsapp: {
      phoneNumberId: `1${digits(14)}`,
      businessAccountId: `2${digits(14)}`,
      accessToken: `EAAG-${randomUUID()}`,
      appSecret: `app-secret-${randomUUID()}`,
      verifyToken: `verify-${randomUUID()}`,
    },
  }
}

/**
 * Stores a tenant with this id in a test's own database (tests of the SQL name it in their rows);
 * everything else as tenantSpec makes it.
 */
export async function seedTenant(sql: Sql, id: string): Promise<TenantSpec> {
  const spec = { ...tenantSpec(), id, name: id }
  await upsertTenant(sql, randomBytes(32), spec)
  return spec
}
