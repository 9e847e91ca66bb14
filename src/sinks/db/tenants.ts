import { BridgeError } from '../../errors.js'
import { isRetiringSecret, retireSecret, type RetiringSecret } from '../../processors/signing-secrets.js'
import type { GenesysSpec, TenantSpec, TenantStatus, WhatsappSpec } from '../../processors/tenant-spec.js'
import type { TransactionSql } from 'postgres'
import type { Sql } from './client.js'
import { decryptJson, encryptJson, keyId, openJson, toKeyring, type CredentialKeys } from './crypto.js'

export interface Tenant {
  id: string
  name: string
  genesysIntegrationId: string
  genesysRegion: string
  whatsappPhoneNumberId: string
  status: TenantStatus
  createdAt: Date
  updatedAt: Date
}

export interface WhatsappCredentials extends WhatsappSpec {
  /** The app secret before the last rotation, accepted on webhooks until its overlap ends. */
  previousAppSecret?: RetiringSecret
}
export interface GenesysCredentials {
  clientId: string
  clientSecret: string
  webhookSecret: string
  integrationId: string
  /** The webhook secret before the last rotation, accepted until its overlap ends. */
  previousWebhookSecret?: RetiringSecret
}
export type CredentialType = 'whatsapp' | 'genesys'
export interface CredentialsOf {
  whatsapp: WhatsappCredentials
  genesys: GenesysCredentials
}

/** Per credential type: the secret webhooks are signed with, and where its predecessor is kept. */
export const signingFields = {
  whatsapp: { secret: 'appSecret', previous: 'previousAppSecret' },
  genesys: { secret: 'webhookSecret', previous: 'previousWebhookSecret' },
} as const

/** The signing secret of stored credentials and its retiring predecessor. */
export function signingSecretsOf<T extends CredentialType>(
  type: T,
  creds: CredentialsOf[T],
): { secret: string; previous: RetiringSecret | undefined } {
  const f = signingFields[type]
  const r = creds as unknown as Record<string, unknown>
  const secret = r[f.secret]
  // A missing secret is '' (which never verifies), never the string "undefined".
  const previous = r[f.previous]
  return {
    secret: typeof secret === 'string' ? secret : '',
    previous: isRetiringSecret(previous) ? previous : undefined,
  }
}

interface TenantRow {
  id: string
  name: string
  genesys_integration_id: string
  genesys_region: string
  whatsapp_phone_number_id: string
  status: TenantStatus
  created_at: Date
  updated_at: Date
}

function toTenant(r: TenantRow): Tenant {
  return {
    id: r.id,
    name: r.name,
    genesysIntegrationId: r.genesys_integration_id,
    genesysRegion: r.genesys_region,
    whatsappPhoneNumberId: r.whatsapp_phone_number_id,
    status: r.status,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  }
}

/** The AAD of a credential row: a blob only decrypts as the row it was written for. */
export const credentialAad = (tenantId: string, type: CredentialType): string => `${tenantId}:${type}`

function genesysCredentialsOf(g: GenesysSpec): GenesysCredentials {
  return {
    clientId: g.clientId,
    clientSecret: g.clientSecret,
    webhookSecret: g.webhookSecret,
    integrationId: g.integrationId,
  }
}

async function writeCredentials<T extends CredentialType>(
  sql: TransactionSql,
  keys: CredentialKeys,
  tenantId: string,
  type: T,
  value: CredentialsOf[T],
): Promise<void> {
  const blob = encryptJson(keys, credentialAad(tenantId, type), value)
  await sql`
    insert into tenant_credentials (tenant_id, type, ciphertext, key_id, updated_at)
    values (${tenantId}, ${type}, ${blob}, ${keyId(toKeyring(keys).current)}, now())
    on conflict (tenant_id, type) do update
      set ciphertext = excluded.ciphertext, key_id = excluded.key_id, updated_at = now()`
}

export interface RotateOptions {
  /** How long a replaced webhook secret / app secret stays accepted (0, the default: not at all). */
  overlapMs?: number
  nowMs?: number
}

/** `next` with the previous signing secret it keeps after replacing `current` (see retireSecret). */
function withPrevious<T extends CredentialType>(
  type: T,
  current: CredentialsOf[T] | undefined,
  next: CredentialsOf[T],
  opts: RotateOptions,
): CredentialsOf[T] {
  const field = signingFields[type].previous
  const out: Record<string, unknown> = { ...next }
  delete out[field]
  if (current !== undefined) {
    const before = signingSecretsOf(type, current)
    const after = signingSecretsOf(type, next).secret
    const nowMs = opts.nowMs ?? Date.now()
    const retiring = retireSecret(before.secret, after, before.previous, opts.overlapMs ?? 0, nowMs)
    if (retiring !== undefined) out[field] = retiring
  }
  return out as unknown as CredentialsOf[T]
}

/** The stored blob, locked until the transaction ends, so two writers cannot lose one another. */
async function lockedBlob(tx: TransactionSql, tenantId: string, type: CredentialType): Promise<Buffer | undefined> {
  const rows = await tx<{ ciphertext: Buffer }[]>`
    select ciphertext from tenant_credentials where tenant_id = ${tenantId} and type = ${type} for update`
  return rows[0]?.ciphertext
}

/**
 * Writes `next`, keeping a replaced signing secret for the overlap. A stored row no configured key
 * opens is replaced as it was before rotation existed (that is how an operator repairs it).
 */
async function replaceCredentials<T extends CredentialType>(
  tx: TransactionSql,
  keys: CredentialKeys,
  tenantId: string,
  type: T,
  next: CredentialsOf[T],
  opts: RotateOptions,
): Promise<void> {
  const blob = await lockedBlob(tx, tenantId, type)
  const opened = blob === undefined ? undefined : openJson(keys, credentialAad(tenantId, type), blob)
  const current = opened?.ok === true ? (opened.value as CredentialsOf[T]) : undefined
  await writeCredentials(tx, keys, tenantId, type, withPrevious(type, current, next, opts))
}

/**
 * Tenant row and both credential rows in one transaction: a tenant never exists half-configured.
 * On an update, a changed webhook secret or app secret keeps the replaced one for `opts.overlapMs`,
 * and an unchanged one keeps its running overlap.
 */
export async function upsertTenant(
  sql: Sql,
  key: CredentialKeys,
  spec: TenantSpec,
  opts: RotateOptions = {},
): Promise<Tenant> {
  return sql.begin(async (tx) => {
    const rows = await tx<TenantRow[]>`
      insert into tenants (id, name, genesys_integration_id, genesys_region, whatsapp_phone_number_id, status)
      values (${spec.id}, ${spec.name}, ${spec.genesys.integrationId}, ${spec.genesys.region},
              ${spec.whatsapp.phoneNumberId}, ${spec.status})
      on conflict (id) do update set
        name = excluded.name,
        genesys_integration_id = excluded.genesys_integration_id,
        genesys_region = excluded.genesys_region,
        whatsapp_phone_number_id = excluded.whatsapp_phone_number_id,
        status = excluded.status,
        updated_at = now()
      returning *`
    await replaceCredentials(tx, key, spec.id, 'whatsapp', { ...spec.whatsapp }, opts)
    await replaceCredentials(tx, key, spec.id, 'genesys', genesysCredentialsOf(spec.genesys), opts)
    return toTenant(rows[0] as TenantRow)
  }) as Promise<Tenant>
}

export async function getTenant(sql: Sql, id: string): Promise<Tenant | undefined> {
  const rows = await sql<TenantRow[]>`select * from tenants where id = ${id}`
  return rows[0] === undefined ? undefined : toTenant(rows[0])
}

export async function findByIntegrationId(sql: Sql, integrationId: string): Promise<Tenant | undefined> {
  const rows = await sql<TenantRow[]>`select * from tenants where genesys_integration_id = ${integrationId}`
  return rows[0] === undefined ? undefined : toTenant(rows[0])
}

export async function findByPhoneNumberId(sql: Sql, phoneNumberId: string): Promise<Tenant | undefined> {
  const rows = await sql<TenantRow[]>`select * from tenants where whatsapp_phone_number_id = ${phoneNumberId}`
  return rows[0] === undefined ? undefined : toTenant(rows[0])
}

export async function listTenants(sql: Sql): Promise<Tenant[]> {
  const rows = await sql<TenantRow[]>`select * from tenants order by id`
  return rows.map(toTenant)
}

export async function setTenantStatus(sql: Sql, id: string, status: TenantStatus): Promise<Tenant> {
  const rows = await sql<TenantRow[]>`
    update tenants set status = ${status}, updated_at = now() where id = ${id} returning *`
  if (rows[0] === undefined) throw new BridgeError('GWB_TENANT_UNKNOWN', `no tenant ${id}`)
  return toTenant(rows[0])
}

/** Throws the error ingest maps to 404/403; callers that only need an active tenant use this. */
export function requireActive(tenant: Tenant | undefined, lookedUpBy: string): Tenant {
  if (tenant === undefined) throw new BridgeError('GWB_TENANT_UNKNOWN', `no tenant for ${lookedUpBy}`)
  if (tenant.status !== 'active') {
    throw new BridgeError('GWB_TENANT_INACTIVE', `tenant ${tenant.id} is inactive`, {
      details: { tenantId: tenant.id },
    })
  }
  return tenant
}

export async function getCredentials<T extends CredentialType>(
  sql: Sql,
  key: CredentialKeys,
  tenantId: string,
  type: T,
): Promise<CredentialsOf[T] | undefined> {
  const rows = await sql<{ ciphertext: Buffer }[]>`
    select ciphertext from tenant_credentials where tenant_id = ${tenantId} and type = ${type}`
  if (rows[0] === undefined) return undefined
  return decryptJson(key, credentialAad(tenantId, type), rows[0].ciphertext) as CredentialsOf[T]
}

/**
 * Merges the given secrets into the stored ones and re-encrypts (also re-keys a row written under an
 * older key id). The row is locked for the read-modify-write so two rotations cannot lose one another.
 * A replaced signing secret is kept as the previous one until `overlapMs` from now.
 * The plain lookup ids on `tenants` follow when the phone number or integration id itself changes.
 * Callers must invalidate caches afterwards (TenantDirectory.invalidateTenant).
 */
export async function rotateCredentials<T extends CredentialType>(
  sql: Sql,
  key: CredentialKeys,
  tenantId: string,
  type: T,
  partial: Partial<CredentialsOf[T]>,
  opts: RotateOptions = {},
): Promise<CredentialsOf[T]> {
  return sql.begin(async (tx) => {
    const blob = await lockedBlob(tx, tenantId, type)
    if (blob === undefined) {
      throw new BridgeError('GWB_TENANT_UNKNOWN', `tenant ${tenantId} has no ${type} credentials`)
    }
    const current = decryptJson(key, credentialAad(tenantId, type), blob) as CredentialsOf[T]
    const defined = Object.fromEntries(Object.entries(partial).filter(([, v]) => v !== undefined))
    const next = withPrevious(type, current, { ...current, ...defined } as CredentialsOf[T], opts)
    await writeCredentials(tx, key, tenantId, type, next)
    if (type === 'whatsapp') {
      const w = next as WhatsappCredentials
      await tx`update tenants set whatsapp_phone_number_id = ${w.phoneNumberId}, updated_at = now() where id = ${tenantId}`
    } else {
      const g = next as GenesysCredentials
      await tx`update tenants set genesys_integration_id = ${g.integrationId}, updated_at = now() where id = ${tenantId}`
    }
    return next
  }) as Promise<CredentialsOf[T]>
}
