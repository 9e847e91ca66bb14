/**
 * The tenant file format (`gwb tenants add --file sandbox.json`). Pure validation: no I/O, every
 * problem reported at once with the field's path, so an operator fixes the file in one pass.
 */
import { integrationIdProblem, phoneNumberIdProblem, tenantIdProblem } from './ids.js'

export interface GenesysSpec {
  integrationId: string
  /** Genesys Cloud domain, e.g. "mypurecloud.ie"; API and login hosts derive from it. */
  region: string
  clientId: string
  clientSecret: string
  webhookSecret: string
}

export interface WhatsappSpec {
  phoneNumberId: string
  businessAccountId: string
  accessToken: string
  appSecret: string
  verifyToken: string
}

export type TenantStatus = 'active' | 'inactive'

export interface TenantSpec {
  id: string
  name: string
  status: TenantStatus
  genesys: GenesysSpec
  whatsapp: WhatsappSpec
}

export type SpecResult = { ok: true; value: TenantSpec } | { ok: false; errors: string[] }

const DIGITS = /^[0-9]{1,32}$/
// A domain name; not a fixed region list, so new Genesys regions and local fakes need no code change.
const DOMAIN = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$/

type Rec = Record<string, unknown>

function isRecord(v: unknown): v is Rec {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

interface Field {
  name: string
  check?: (v: string) => string | undefined
}

function readSection(obj: unknown, path: string, fields: Field[], errors: string[]): Record<string, string> {
  const out: Record<string, string> = {}
  if (!isRecord(obj)) {
    errors.push(`${path}: must be an object`)
    return out
  }
  for (const f of fields) {
    const v = obj[f.name]
    if (typeof v !== 'string' || v.trim() === '') {
      errors.push(`${path}.${f.name}: required, a non-empty string`)
      continue
    }
    if (v !== v.trim()) {
      errors.push(`${path}.${f.name}: must not start or end with whitespace`)
      continue
    }
    const problem = f.check?.(v)
    if (problem !== undefined) errors.push(`${path}.${f.name}: ${problem}`)
    else out[f.name] = v
  }
  for (const k of Object.keys(obj)) {
    if (!fields.some((f) => f.name === k)) errors.push(`${path}.${k}: unknown field`)
  }
  return out
}

const genesysFields: Field[] = [
  { name: 'integrationId', check: integrationIdProblem },
  { name: 'region', check: (v) => (DOMAIN.test(v) ? undefined : 'must be a Genesys Cloud domain like mypurecloud.ie') },
  { name: 'clientId' },
  { name: 'clientSecret' },
  // Genesys rejects an outbound notification signature secret of 15 characters or fewer.
  { name: 'webhookSecret', check: (v) => (v.length > 15 ? undefined : 'must be longer than 15 characters') },
]

const whatsappFields: Field[] = [
  { name: 'phoneNumberId', check: phoneNumberIdProblem },
  { name: 'businessAccountId', check: (v) => (DIGITS.test(v) ? undefined : 'must be the numeric WABA id') },
  { name: 'accessToken' },
  { name: 'appSecret' },
  { name: 'verifyToken' },
]

const topFields = ['id', 'name', 'status', 'genesys', 'whatsapp']

export function validateTenantSpec(input: unknown): SpecResult {
  const errors: string[] = []
  if (!isRecord(input)) return { ok: false, errors: ['tenant spec: must be a JSON object'] }

  const id = input.id
  if (typeof id !== 'string' || tenantIdProblem(id) !== undefined) {
    errors.push('id: required, 1-63 characters of a-z, 0-9 and -')
  }
  const name = input.name
  if (typeof name !== 'string' || name.trim() === '' || name.length > 200) {
    errors.push('name: required, a non-empty string of at most 200 characters')
  }
  const status = input.status ?? 'active'
  if (status !== 'active' && status !== 'inactive') errors.push('status: must be "active" or "inactive"')
  for (const k of Object.keys(input)) if (!topFields.includes(k)) errors.push(`${k}: unknown field`)

  const genesys = readSection(input.genesys, 'genesys', genesysFields, errors)
  const whatsapp = readSection(input.whatsapp, 'whatsapp', whatsappFields, errors)
  if (errors.length > 0) return { ok: false, errors }

  return {
    ok: true,
    value: {
      id: id as string,
      name: (name as string).trim(),
      status: status as TenantStatus,
      genesys: genesys as unknown as GenesysSpec,
      whatsapp: whatsapp as unknown as WhatsappSpec,
    },
  }
}
