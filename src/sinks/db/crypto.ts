import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto'
import { BridgeError } from '../../errors.js'

/**
 * AES-256-GCM for tenant secrets at rest (Postgres) and in the cache (Redis).
 * Blob layout v2: version byte (2) | key id (8) | IV (12 random bytes) | auth tag (16) | ciphertext.
 * Blob layout v1 (still read): version byte (1) | IV | auth tag | ciphertext.
 * The AAD binds a blob to where it belongs ("tenantId:type"), so a row copied onto another tenant
 * or type fails authentication instead of silently handing out someone else's token. The key id in
 * the blob names the key that sealed it, so several keys can be live during a key rotation and a
 * blob under a key nobody configured is named as such instead of failing as "tampered".
 */
const V1 = 1
const V2 = 2
const KEY_ID_BYTES = 8
const IV_BYTES = 12
const TAG_BYTES = 16

/** The current key seals; it and the previous keys open (CREDENTIALS_KEY, CREDENTIALS_KEY_PREVIOUS). */
export interface Keyring {
  readonly current: Buffer
  readonly previous: readonly Buffer[]
}

/** A single key is a keyring without previous keys (tests, the sandbox, the bench). */
export type CredentialKeys = Buffer | Keyring

export function toKeyring(keys: CredentialKeys): Keyring {
  return Buffer.isBuffer(keys) ? { current: keys, previous: [] } : keys
}

/** The keyring of the configuration (CREDENTIALS_KEY and CREDENTIALS_KEY_PREVIOUS). */
export function keyringOf(config: {
  readonly credentialsKey: Buffer
  readonly credentialsKeysPrevious: readonly Buffer[]
}): Keyring {
  return { current: config.credentialsKey, previous: config.credentialsKeysPrevious }
}

export function parseCredentialsKey(base64: string | undefined): Buffer {
  const hint = 'generate one with: openssl rand -base64 32'
  if (base64 === undefined || base64.trim() === '') {
    throw new BridgeError('GWB_CONFIG', `CREDENTIALS_KEY is not set; ${hint}`)
  }
  const text = base64.trim()
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text) || text.length % 4 !== 0) {
    throw new BridgeError('GWB_CONFIG', `CREDENTIALS_KEY is not valid base64; ${hint}`)
  }
  const key = Buffer.from(text, 'base64')
  if (key.length !== 32) {
    throw new BridgeError('GWB_CONFIG', `CREDENTIALS_KEY must decode to exactly 32 bytes, got ${key.length}; ${hint}`)
  }
  return key
}

const keyIdBytes = (key: Buffer): Buffer =>
  createHash('sha256').update('gwb-credentials-key').update(key).digest().subarray(0, KEY_ID_BYTES)

/**
 * Short, non-secret fingerprint of the key (16 hex digits), stored in each blob and next to each
 * row as key_id. A hash of the key under a fixed label: it names a key without helping to find it.
 */
export function keyId(key: Buffer): string {
  return keyIdBytes(key).toString('hex')
}

/** The key id sealed into a blob, or undefined for a v1 blob (which does not carry one). */
export function blobKeyId(blob: Buffer): string | undefined {
  return blob[0] === V2 && blob.length > 1 + KEY_ID_BYTES
    ? blob.subarray(1, 1 + KEY_ID_BYTES).toString('hex')
    : undefined
}

export function encryptJson(keys: CredentialKeys, aad: string, value: unknown): Buffer {
  const key = toKeyring(keys).current
  const header = Buffer.concat([Buffer.from([V2]), keyIdBytes(key)])
  const iv = randomBytes(IV_BYTES)
  const cipher = createCipheriv('aes-256-gcm', key, iv)
  cipher.setAAD(Buffer.concat([header, Buffer.from(aad, 'utf8')]))
  const body = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()])
  return Buffer.concat([header, iv, cipher.getAuthTag(), body])
}

/** GCM authentication decides: a wrong key, AAD or any changed byte gives undefined. */
function open(key: Buffer, aad: Buffer, blob: Buffer, at: number): { value: unknown } | undefined {
  const iv = blob.subarray(at, at + IV_BYTES)
  const tag = blob.subarray(at + IV_BYTES, at + IV_BYTES + TAG_BYTES)
  const decipher = createDecipheriv('aes-256-gcm', key, iv)
  decipher.setAAD(aad)
  decipher.setAuthTag(tag)
  try {
    const text = Buffer.concat([decipher.update(blob.subarray(at + IV_BYTES + TAG_BYTES)), decipher.final()])
    return { value: JSON.parse(text.toString('utf8')) as unknown }
  } catch {
    return undefined
  }
}

export type Opened = { ok: true; value: unknown } | { ok: false; error: BridgeError }

// Never include the blob or a key in the message; key ids are fingerprints, not keys.
const unreadable = (aad: string, why: string): Opened => ({
  ok: false,
  error: new BridgeError('GWB_CONFIG', `cannot decrypt credentials for ${aad}: ${why}`),
})

/** Opens a blob with whichever configured key sealed it; an unreadable blob is a value, not a throw. */
export function openJson(keys: CredentialKeys, aad: string, blob: Buffer): Opened {
  const ring = toKeyring(keys)
  const all = [ring.current, ...ring.previous]
  const aadBytes = Buffer.from(aad, 'utf8')
  let opened: { value: unknown } | undefined
  const id = blobKeyId(blob)
  if (id !== undefined && blob.length >= 1 + KEY_ID_BYTES + IV_BYTES + TAG_BYTES) {
    const key = all.find((k) => keyId(k) === id)
    if (key === undefined) {
      return unreadable(
        aad,
        `they were encrypted under key ${id}, which is neither CREDENTIALS_KEY (${keyId(ring.current)}) nor in CREDENTIALS_KEY_PREVIOUS`,
      )
    }
    const header = blob.subarray(0, 1 + KEY_ID_BYTES)
    opened = open(key, Buffer.concat([header, aadBytes]), blob, header.length)
    if (opened === undefined) return unreadable(aad, 'the data was tampered with or belongs to another tenant or type')
  } else if (blob[0] === V1 && blob.length >= 1 + IV_BYTES + TAG_BYTES) {
    // A v1 blob does not name its key: each configured key is tried (GCM refuses a wrong one).
    for (const key of all) {
      opened = open(key, aadBytes, blob, 1)
      if (opened !== undefined) break
    }
    if (opened === undefined) {
      return unreadable(
        aad,
        'neither CREDENTIALS_KEY nor any of CREDENTIALS_KEY_PREVIOUS is the key they were encrypted with, or the data was tampered with',
      )
    }
  } else {
    return unreadable(aad, 'the data is malformed (unknown format)')
  }
  return { ok: true, value: opened.value }
}

export function decryptJson(keys: CredentialKeys, aad: string, blob: Buffer): unknown {
  const opened = openJson(keys, aad, blob)
  if (!opened.ok) throw opened.error
  return opened.value
}

/**
 * A non-secret fingerprint of a secret: the first 8 hex digits (32 bits) of SHA-256 over a fixed
 * label and the secret. It tells two secrets apart and lets an operator check a secret they hold
 * against the stored one, but it is one-way and shows none of the secret's characters; 32 bits of
 * a hash cannot rebuild a secret of 128 bits or more (tokens, app secrets, webhook secrets).
 */
export function secretFingerprint(secret: string): string {
  return createHash('sha256').update('gwb-secret-fingerprint:').update(secret, 'utf8').digest('hex').slice(0, 8)
}

/** For logs and CLI output: the same dots for every secret, plus its fingerprint. */
export function maskSecret(secret: string): string {
  return secret === '' ? '(empty)' : `•••••• fp:${secretFingerprint(secret)}`
}
