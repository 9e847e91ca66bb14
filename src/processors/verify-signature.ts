import { createHmac, timingSafeEqual } from 'node:crypto'

const prefix = 'sha256='
const base64Sha256 = /^[A-Za-z0-9+/]{43}=$/
const hexSha256 = /^[0-9a-f]{64}$/

/**
 * Genesys: `X-Hub-Signature-256: sha256=<Base64 HMAC-SHA256(secret, raw body)>` (facts §1.1).
 * Checked over the raw bytes: Genesys's own sample re-serialises, the Go example does not, and
 * raw bytes are the only thing both sides can agree on. `secrets` are every secret accepted now
 * (during a rotation's overlap, the new one and the previous one).
 */
export function verifyGenesysSignature(
  rawBody: Buffer,
  header: string | undefined,
  secrets: readonly string[],
): boolean {
  const sig = stripPrefix(header)
  // Strict alphabet and length: Buffer.from(x, 'base64') silently skips junk, so a hex string or a
  // mangled value could otherwise decode into something of the right length.
  if (sig === undefined || !base64Sha256.test(sig)) return false
  return matchesAny(Buffer.from(sig, 'base64'), rawBody, secrets)
}

/**
 * Meta: `X-Hub-Signature-256: sha256=<lowercase hex HMAC-SHA256(app secret, raw body)>` (facts §4.1).
 * Meta signs the body with non-ASCII escaped as \uXXXX, so only the raw bytes verify.
 */
export function verifyMetaSignature(
  rawBody: Buffer,
  header: string | undefined,
  appSecrets: readonly string[],
): boolean {
  const sig = stripPrefix(header)
  if (sig === undefined || !hexSha256.test(sig)) return false
  return matchesAny(Buffer.from(sig, 'hex'), rawBody, appSecrets)
}

/**
 * Every secret is tried (no early exit), so the time taken does not tell which one matched.
 * An empty secret is a missing configuration, never a key anyone may sign with.
 */
function matchesAny(given: Buffer, rawBody: Buffer, secrets: readonly string[]): boolean {
  let ok = false
  for (const secret of secrets) ok = (secret !== '' && safeEqual(given, hmac(rawBody, secret))) || ok
  return ok
}

function stripPrefix(header: string | undefined): string | undefined {
  if (typeof header !== 'string' || !header.startsWith(prefix)) return undefined
  return header.slice(prefix.length)
}

function hmac(body: Buffer, secret: string): Buffer {
  return createHmac('sha256', secret).update(body).digest()
}

function safeEqual(a: Buffer, b: Buffer): boolean {
  // timingSafeEqual throws on a length mismatch; a wrong length is just a wrong signature.
  return a.length === b.length && timingSafeEqual(a, b)
}
