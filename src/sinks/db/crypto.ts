import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto'
import { BridgeError } from '../../errors.js'

/**
 * AES-256-GCM for tenant secrets at rest (Postgres) and in the cache (Redis).
 * Blob layout: version byte (1) | IV (12 random bytes) | auth tag (16) | ciphertext.
 * The AAD binds a blob to where it belongs ("tenantId:type"), so a row copied onto another tenant
 * or type fails authentication instead of silently handing out someone else's token.
 */
const VERSION = 1
const IV_BYTES = 12
const TAG_BYTES = 16
const HEADER = 1 + IV_BYTES + TAG_BYTES

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

/** Short, non-secret fingerprint of the key, stored next to each row as key_id. */
export function keyId(key: Buffer): string {
  return createHash('sha256').update('gwb-credentials-key').update(key).digest('hex').slice(0, 16)
}

export function encryptJson(key: Buffer, aad: string, value: unknown): Buffer {
  const iv = randomBytes(IV_BYTES)
  const cipher = createCipheriv('aes-256-gcm', key, iv)
  cipher.setAAD(Buffer.from(aad, 'utf8'))
  const body = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()])
  return Buffer.concat([Buffer.from([VERSION]), iv, cipher.getAuthTag(), body])
}

export function decryptJson(key: Buffer, aad: string, blob: Buffer): unknown {
  if (blob.length < HEADER || blob[0] !== VERSION) {
    throw new BridgeError('GWB_CONFIG', `encrypted credentials for ${aad} are malformed (unknown format)`)
  }
  const iv = blob.subarray(1, 1 + IV_BYTES)
  const tag = blob.subarray(1 + IV_BYTES, HEADER)
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, iv)
    decipher.setAAD(Buffer.from(aad, 'utf8'))
    decipher.setAuthTag(tag)
    const text = Buffer.concat([decipher.update(blob.subarray(HEADER)), decipher.final()]).toString('utf8')
    return JSON.parse(text) as unknown
  } catch (err) {
    // Never include the blob or the key in the message.
    throw new BridgeError(
      'GWB_CONFIG',
      `cannot decrypt credentials for ${aad}: CREDENTIALS_KEY is not the key they were encrypted with, or the data was tampered with`,
      { cause: err },
    )
  }
}

/** For logs and CLI output: shows enough to tell two secrets apart, never the secret. */
export function maskSecret(secret: string): string {
  if (secret.length < 12) return '****'
  return `${secret.slice(0, 2)}…${secret.slice(-2)}`
}
