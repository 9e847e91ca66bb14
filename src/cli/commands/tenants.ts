import { readFile } from 'node:fs/promises'
import { validateTenantSpec } from '../../processors/tenant-spec.js'
import { isRetiringSecret } from '../../processors/signing-secrets.js'
import { keyringOf, maskSecret } from '../../sinks/db/crypto.js'
import {
  getCredentials,
  getTenant,
  listTenants,
  rotateCredentials,
  setTenantStatus,
  signingFields,
  upsertTenant,
  type GenesysCredentials,
  type Tenant,
  type WhatsappCredentials,
} from '../../sinks/db/tenants.js'
import { bool, durationFlag, parseFlags, requireStr, str } from '../args.js'
import { withDirectory, withSql } from '../context.js'
import { CliFailure, UsageError } from '../errors.js'
import { line, reporter, table, type Command, type Output } from '../io.js'

// Long enough to update the platform's side at leisure after rotating in the bridge.
const DEFAULT_OVERLAP = '24h'
const DEFAULT_OVERLAP_MS = 24 * 3_600_000
const MAX_OVERLAP_MS = 30 * 86_400_000

export const tenantsHelp = `usage: gwb tenants <subcommand>

  add --file <spec.json> [--overlap 24h]
                                create or update a tenant from a tenant file (see examples/tenants/);
                                on an update, a changed webhook secret or app secret overlaps as below
  list [--json]                 all tenants, as a table or JSON
  show <id> [--json]            one tenant with its credentials, secrets masked
  disable <id> | enable <id>    stop or resume accepting the tenant's webhooks
  add, disable, enable and rotate also take --json (one JSON summary on stdout)
  rotate <id> [--whatsapp-access-token T] [--whatsapp-app-secret S] [--whatsapp-verify-token V]
              [--genesys-client-secret S] [--genesys-webhook-secret S] [--file partial.json]
              [--overlap 24h]
                                replace credentials in PostgreSQL and drop every cached copy at once
                                (this process, Redis, and by pub/sub every running bridge process);
                                a replaced webhook secret or app secret is still accepted on webhooks
                                for --overlap (default ${DEFAULT_OVERLAP}; 0 ends it at once, at most 30d)
Secrets are never printed: each shows as ${maskSecret('x').replace(/fp:.*/, 'fp:<8 hex digits>')}, a one-way fingerprint.
Prefer --file over flags (flags show in ps).
`

const SECRET_FIELDS = new Set(['accessToken', 'appSecret', 'verifyToken', 'clientSecret', 'webhookSecret'])

async function readJsonFile(command: string, path: string): Promise<unknown> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    const code = (err as { code?: string }).code
    throw new UsageError(`${command}: cannot read --file ${path}${code === undefined ? '' : ` (${code})`}`)
  }
  try {
    return JSON.parse(text) as unknown
  } catch (err) {
    throw new UsageError(`${command}: --file ${path} is not valid JSON: ${err instanceof Error ? err.message : ''}`)
  }
}

const add: Command = async (config, args, out, err) => {
  const CMD = 'tenants add'
  const p = parseFlags(CMD, args, {
    file: { type: 'string' },
    overlap: { type: 'string' },
    json: { type: 'boolean' },
  })
  const file = requireStr(CMD, p, 'file')
  const opts = { overlapMs: durationFlag(CMD, p, 'overlap', MAX_OVERLAP_MS) ?? DEFAULT_OVERLAP_MS, nowMs: Date.now() }
  const checked = validateTenantSpec(await readJsonFile(CMD, file))
  if (!checked.ok) throw new UsageError(`${CMD}: ${file} is not a valid tenant:\n  - ${checked.errors.join('\n  - ')}`)
  const spec = checked.value
  await withDirectory(config, async (sql, directory) => {
    const before = await getTenant(sql, spec.id)
    const tenant = await upsertTenant(sql, keyringOf(config), spec, opts)
    // An update may change secrets or lookup ids that running processes hold in their caches.
    await directory.invalidateTenant(
      spec.id,
      before === undefined
        ? undefined
        : { genesysIntegrationId: before.genesysIntegrationId, whatsappPhoneNumberId: before.whatsappPhoneNumberId },
    )
    const action = before === undefined ? 'added' : 'updated'
    reporter(bool(p, 'json'), out, err).summary(
      { action, id: tenant.id, name: tenant.name, status: tenant.status },
      () => line(out, `${action} tenant ${tenant.id} (${tenant.name}), status ${tenant.status}`),
    )
  })
}

const columns = ['id', 'name', 'status', 'genesys integration', 'region', 'phone number id'] as const
const row = (t: Tenant): string[] => [
  t.id,
  t.name,
  t.status,
  t.genesysIntegrationId,
  t.genesysRegion,
  t.whatsappPhoneNumberId,
]
const json = (t: Tenant) => ({ ...t, createdAt: t.createdAt.toISOString(), updatedAt: t.updatedAt.toISOString() })

const list: Command = async (config, args, out) => {
  const p = parseFlags('tenants list', args, { json: { type: 'boolean' } })
  const tenants = await withSql(config, listTenants)
  if (bool(p, 'json')) line(out, JSON.stringify(tenants.map(json), null, 2))
  else if (tenants.length === 0) line(out, 'no tenants')
  else table(out, columns, tenants.map(row))
}

const PREVIOUS_FIELDS = new Set<string>(Object.values(signingFields).map((f) => f.previous))

/** One credential field as the CLI may print it: secrets masked, a retiring secret with its end. */
function shown(field: string, value: unknown): string {
  if (PREVIOUS_FIELDS.has(field) && isRetiringSecret(value)) {
    const end = new Date(value.until).toISOString()
    return `${maskSecret(value.secret)}, ${value.until > Date.now() ? 'accepted until' : 'ended'} ${end}`
  }
  return SECRET_FIELDS.has(field) || PREVIOUS_FIELDS.has(field) ? maskSecret(String(value)) : String(value)
}

function masked<T extends object>(creds: T | undefined): Record<string, string> | null {
  if (creds === undefined) return null
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(creds)) out[k] = shown(k, v)
  return out
}

const show: Command = async (config, args, out) => {
  const CMD = 'tenants show'
  const p = parseFlags(CMD, args, { json: { type: 'boolean' } }, { min: 1, max: 1, names: '<tenant id>' })
  const id = p.positionals[0] as string
  const view = await withSql(config, async (sql) => {
    const tenant = await getTenant(sql, id)
    if (tenant === undefined) throw new CliFailure(`no tenant ${id}`)
    const [whatsapp, genesys] = await Promise.all([
      getCredentials(sql, keyringOf(config), id, 'whatsapp'),
      getCredentials(sql, keyringOf(config), id, 'genesys'),
    ])
    return { ...json(tenant), credentials: { whatsapp: masked(whatsapp), genesys: masked(genesys) } }
  })
  if (bool(p, 'json')) {
    line(out, JSON.stringify(view, null, 2))
    return
  }
  for (const [k, v] of Object.entries(view)) {
    if (k !== 'credentials') line(out, `${k}: ${String(v)}`)
  }
  for (const [type, creds] of Object.entries(view.credentials)) {
    line(out, `${type}:`)
    if (creds === null) line(out, '  (none)')
    else for (const [k, v] of Object.entries(creds)) line(out, `  ${k}: ${v}`)
  }
}

const setStatus =
  (status: 'active' | 'inactive'): Command =>
  async (config, args, out, err) => {
    const CMD = `tenants ${status === 'active' ? 'enable' : 'disable'}`
    const p = parseFlags(CMD, args, { json: { type: 'boolean' } }, { min: 1, max: 1, names: '<tenant id>' })
    const id = p.positionals[0] as string
    await withDirectory(config, async (sql, directory) => {
      if ((await getTenant(sql, id)) === undefined) throw new CliFailure(`no tenant ${id}`)
      await setTenantStatus(sql, id, status)
      await directory.invalidateTenant(id)
    })
    reporter(bool(p, 'json'), out, err).summary({ id, status }, () => line(out, `tenant ${id} is now ${status}`))
  }

const ROTATE_FIELDS = {
  whatsapp: ['accessToken', 'appSecret', 'verifyToken', 'phoneNumberId', 'businessAccountId'],
  genesys: ['clientId', 'clientSecret', 'webhookSecret', 'integrationId'],
} as const

interface Rotation {
  whatsapp: Partial<WhatsappCredentials>
  genesys: Partial<GenesysCredentials>
}

function parsePartial(command: string, file: string, input: unknown, into: Rotation): void {
  const problems: string[] = []
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new UsageError(`${command}: ${file} must hold a JSON object like {"whatsapp": {"accessToken": "..."}}`)
  }
  for (const [section, body] of Object.entries(input)) {
    if (section !== 'whatsapp' && section !== 'genesys') {
      problems.push(`${section}: unknown section (whatsapp or genesys)`)
      continue
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      problems.push(`${section}: must be an object`)
      continue
    }
    const allowed: readonly string[] = ROTATE_FIELDS[section]
    for (const [k, v] of Object.entries(body as Record<string, unknown>)) {
      if (!allowed.includes(k)) problems.push(`${section}.${k}: unknown field (${allowed.join(', ')})`)
      else if (typeof v !== 'string' || v.trim() === '' || v !== v.trim()) {
        problems.push(`${section}.${k}: must be a non-empty string without surrounding whitespace`)
      } else (into[section] as Record<string, string>)[k] = v
    }
  }
  if (problems.length > 0) throw new UsageError(`${command}: ${file}:\n  - ${problems.join('\n  - ')}`)
}

const rotate: Command = async (config, args, out, err) => {
  const CMD = 'tenants rotate'
  const p = parseFlags(
    CMD,
    args,
    {
      'whatsapp-access-token': { type: 'string' },
      'whatsapp-app-secret': { type: 'string' },
      'whatsapp-verify-token': { type: 'string' },
      'genesys-client-secret': { type: 'string' },
      'genesys-webhook-secret': { type: 'string' },
      file: { type: 'string' },
      overlap: { type: 'string' },
      json: { type: 'boolean' },
    },
    { min: 1, max: 1, names: '<tenant id>' },
  )
  const id = p.positionals[0] as string
  const r: Rotation = { whatsapp: {}, genesys: {} }
  const file = str(p, 'file')
  if (file !== undefined) parsePartial(CMD, file, await readJsonFile(CMD, file), r)
  const flag = (name: string): string | undefined => {
    const v = str(p, name)
    if (v !== undefined && v.trim() === '') throw new UsageError(`${CMD}: --${name} must not be empty`)
    return v
  }
  const set = <S extends keyof Rotation>(section: S, field: keyof Rotation[S], value: string | undefined): void => {
    if (value !== undefined) (r[section] as Record<string, string>)[field as string] = value
  }
  set('whatsapp', 'accessToken', flag('whatsapp-access-token'))
  set('whatsapp', 'appSecret', flag('whatsapp-app-secret'))
  set('whatsapp', 'verifyToken', flag('whatsapp-verify-token'))
  set('genesys', 'clientSecret', flag('genesys-client-secret'))
  set('genesys', 'webhookSecret', flag('genesys-webhook-secret'))
  const webhookSecret = r.genesys.webhookSecret
  if (webhookSecret !== undefined && webhookSecret.length <= 15) {
    throw new UsageError(`${CMD}: the Genesys webhook secret must be longer than 15 characters`)
  }
  const changes = [
    ...Object.keys(r.whatsapp).map((k) => `whatsapp.${k}`),
    ...Object.keys(r.genesys).map((k) => `genesys.${k}`),
  ]
  if (changes.length === 0) {
    throw new UsageError(
      `${CMD}: nothing to rotate; give --whatsapp-access-token, --genesys-client-secret, ... or --file`,
    )
  }
  const explicitOverlap = durationFlag(CMD, p, 'overlap', MAX_OVERLAP_MS)
  if (explicitOverlap !== undefined && r.genesys.webhookSecret === undefined && r.whatsapp.appSecret === undefined) {
    throw new UsageError(`${CMD}: --overlap applies to a new Genesys webhook secret or WhatsApp app secret only`)
  }
  const opts = { overlapMs: explicitOverlap ?? DEFAULT_OVERLAP_MS, nowMs: Date.now() }
  await withDirectory(config, async (sql, directory) => {
    const before = await getTenant(sql, id)
    if (before === undefined) throw new CliFailure(`no tenant ${id}`)
    const keys = keyringOf(config)
    const after: Record<string, Record<string, unknown>> = {}
    if (Object.keys(r.whatsapp).length > 0) {
      after['whatsapp'] = { ...(await rotateCredentials(sql, keys, id, 'whatsapp', r.whatsapp, opts)) }
    }
    if (Object.keys(r.genesys).length > 0) {
      after['genesys'] = { ...(await rotateCredentials(sql, keys, id, 'genesys', r.genesys, opts)) }
    }
    await directory.invalidateTenant(id, {
      genesysIntegrationId: before.genesysIntegrationId,
      whatsappPhoneNumberId: before.whatsappPhoneNumberId,
    })
    // Field names and overlap ends only: a rotated secret is never printed, masked or not, in the JSON.
    reporter(bool(p, 'json'), out, err).summary({ id, rotated: changes, overlaps: overlapEnds(changes, after) }, () =>
      printRotation(out, id, changes, after),
    )
  })
}

const signingFieldsOf = (field: string) => Object.values(signingFields).find((f) => f.secret === field)

/** For each rotated signing secret: until when the replaced one verifies (ISO time), or null. */
function overlapEnds(changes: string[], after: Record<string, Record<string, unknown>>): Record<string, string | null> {
  const ends: Record<string, string | null> = {}
  for (const c of changes) {
    const [section = '', field = ''] = c.split('.')
    const signing = signingFieldsOf(field)
    if (signing === undefined) continue
    const previous = after[section]?.[signing.previous]
    ends[c] = isRetiringSecret(previous) ? new Date(previous.until).toISOString() : null
  }
  return ends
}

function printRotation(
  out: Output,
  id: string,
  changes: string[],
  after: Record<string, Record<string, unknown>>,
): void {
  line(out, `rotated ${changes.length} credential(s) of tenant ${id}; caches invalidated`)
  for (const c of changes) {
    const [section = '', field = ''] = c.split('.')
    line(out, `  ${c}: ${shown(field, after[section]?.[field] ?? '')}`)
    const signing = signingFieldsOf(field)
    if (signing === undefined) continue
    const previous = after[section]?.[signing.previous]
    line(
      out,
      `  ${section}.${signing.previous}: ${previous === undefined ? 'none, the replaced secret no longer verifies' : shown(signing.previous, previous)}`,
    )
  }
}

const subcommands: Record<string, Command> = {
  add,
  list,
  show,
  disable: setStatus('inactive'),
  enable: setStatus('active'),
  rotate,
}

export const tenants: Command = async (config, args, out) => {
  const [sub, ...rest] = args
  if (sub === undefined) throw new UsageError(`tenants: missing subcommand (${Object.keys(subcommands).join(', ')})`)
  const run = subcommands[sub]
  if (run === undefined) {
    throw new UsageError(`tenants: unknown subcommand "${sub}"; one of ${Object.keys(subcommands).join(', ')}`)
  }
  await run(config, rest, out)
}
