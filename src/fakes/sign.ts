import { createHmac, timingSafeEqual } from 'node:crypto'

/**
 * The two platforms sign with the same header name but different encodings (facts §6.1):
 * Meta sends lowercase hex, Genesys sends Base64. Both sign the raw body bytes.
 */
export const SIGNATURE_HEADER = 'x-hub-signature-256'

export function hmacSha256(secret: string, body: string | Buffer): Buffer {
  return createHmac('sha256', secret).update(body).digest()
}

/** `sha256=<lowercase hex>` as Meta sends it. */
export function signMeta(body: string | Buffer, appSecret: string): string {
  return `sha256=${hmacSha256(appSecret, body).toString('hex')}`
}

/** `sha256=<Base64>` as Genesys sends it. */
export function signGenesys(body: string | Buffer, secret: string): string {
  return `sha256=${hmacSha256(secret, body).toString('base64')}`
}

function verify(header: string | undefined, expected: Buffer, decode: (s: string) => Buffer): boolean {
  if (header === undefined || !header.startsWith('sha256=')) return false
  const given = decode(header.slice('sha256='.length))
  // Length check first: timingSafeEqual throws on unequal lengths.
  return given.length === expected.length && timingSafeEqual(given, expected)
}

export function verifyMeta(body: string | Buffer, header: string | undefined, appSecret: string): boolean {
  return verify(header, hmacSha256(appSecret, body), (s) =>
    /^[0-9a-f]{64}$/.test(s) ? Buffer.from(s, 'hex') : Buffer.alloc(0),
  )
}

export function verifyGenesys(body: string | Buffer, header: string | undefined, secret: string): boolean {
  return verify(header, hmacSha256(secret, body), (s) => Buffer.from(s, 'base64'))
}
