import type { Sql } from './client.js'
import { blobKeyId, encryptJson, keyId, openJson, type Keyring } from './crypto.js'
import { credentialAad, type CredentialType } from './tenants.js'

export interface UnreadableRow {
  tenantId: string
  type: CredentialType
  /** The key id recorded for the row (a fingerprint; never the key). */
  keyId: string
  reason: string
}

export interface ReencryptSummary {
  /** Fingerprint of CREDENTIALS_KEY, which every readable row is now sealed with. */
  keyId: string
  rows: number
  reencrypted: number
  alreadyCurrent: number
  unreadable: UnreadableRow[]
  dryRun: boolean
}

interface CredentialRow {
  tenant_id: string
  type: CredentialType
  key_id: string
}

/**
 * Re-seals every credential row under the current key: rows under a previous key, and v1 rows
 * (which do not name their key) under any key. Each row is locked, re-read and rewritten in its own
 * transaction, so running bridges and a second run meanwhile see either the old or the new blob,
 * both readable while the old key is still listed as previous. A second run changes nothing.
 * A row no configured key opens is reported and left as it is.
 */
export async function reencryptCredentials(
  sql: Sql,
  keys: Keyring,
  opts: { dryRun?: boolean } = {},
): Promise<ReencryptSummary> {
  const current = keyId(keys.current)
  const dryRun = opts.dryRun === true
  const summary: ReencryptSummary = {
    keyId: current,
    rows: 0,
    reencrypted: 0,
    alreadyCurrent: 0,
    unreadable: [],
    dryRun,
  }
  const rows = await sql<
    CredentialRow[]
  >`select tenant_id, type, key_id from tenant_credentials order by tenant_id, type`
  for (const row of rows) {
    summary.rows += 1
    const outcome = await reencryptRow(sql, keys, row, dryRun)
    if (outcome === 'current') summary.alreadyCurrent += 1
    else if (outcome === 'reencrypted') summary.reencrypted += 1
    else summary.unreadable.push({ tenantId: row.tenant_id, type: row.type, keyId: row.key_id, reason: outcome.reason })
  }
  return summary
}

async function reencryptRow(
  sql: Sql,
  keys: Keyring,
  row: CredentialRow,
  dryRun: boolean,
): Promise<'current' | 'reencrypted' | { reason: string }> {
  return sql.begin(async (tx) => {
    const locked = await tx<{ ciphertext: Buffer }[]>`
      select ciphertext from tenant_credentials
      where tenant_id = ${row.tenant_id} and type = ${row.type} for update`
    const blob = locked[0]?.ciphertext
    // Gone meanwhile (a tenant removed by hand): nothing left to re-seal.
    if (blob === undefined) return 'current' as const
    if (blobKeyId(blob) === keyId(keys.current)) return 'current' as const
    const aad = credentialAad(row.tenant_id, row.type)
    const opened = openJson(keys, aad, blob)
    if (!opened.ok) return { reason: opened.error.message }
    if (!dryRun) {
      await tx`
        update tenant_credentials
        set ciphertext = ${encryptJson(keys, aad, opened.value)}, key_id = ${keyId(keys.current)}, updated_at = now()
        where tenant_id = ${row.tenant_id} and type = ${row.type}`
    }
    return 'reencrypted' as const
  }) as Promise<'current' | 'reencrypted' | { reason: string }>
}
