import { readFile } from 'node:fs/promises'
import type { OauthbearerProviderResponse } from 'kafkajs'
import { request } from 'undici'
import type { KafkaSasl, OAuthTokenSource } from '../../config/kafka-security.js'
import { BridgeError, errorMessage } from '../../errors.js'

export interface Token {
  value: string
  /** Epoch ms after which the token must not be used. */
  expiresAt: number
}

/**
 * kafkajs asks for a token on every new broker connection: the token is fetched once, shared by
 * concurrent callers, and fetched again a minute before it expires.
 */
export function cachedTokenProvider(
  fetchToken: () => Promise<Token>,
  now: () => number = Date.now,
  marginMs = 60_000,
): () => Promise<OauthbearerProviderResponse> {
  let current: Token | undefined
  let pending: Promise<Token> | undefined
  return async () => {
    if (current !== undefined && current.expiresAt - marginMs > now()) return { value: current.value }
    pending ??= fetchToken().finally(() => {
      pending = undefined
    })
    current = await pending
    return { value: current.value }
  }
}

const authError = (what: string, err: unknown): BridgeError =>
  new BridgeError('GWB_KAFKA_AUTH', `Kafka OAUTHBEARER token: ${what}: ${errorMessage(err)}`, { cause: err })

/** OAuth 2 client-credentials grant (RFC 6749 §4.4), the client authenticated with HTTP Basic. */
async function clientCredentials(src: Extract<OAuthTokenSource, { kind: 'client-credentials' }>): Promise<Token> {
  const form = new URLSearchParams({ grant_type: 'client_credentials' })
  if (src.scope !== undefined) form.set('scope', src.scope)
  const basic = Buffer.from(`${encodeURIComponent(src.clientId)}:${encodeURIComponent(src.clientSecret)}`).toString(
    'base64',
  )
  const res = await request(src.tokenUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${basic}` },
    body: form.toString(),
    headersTimeout: 10_000,
    bodyTimeout: 10_000,
  }).catch((err: unknown) => {
    throw authError(`token endpoint ${src.tokenUrl} unreachable`, err)
  })
  const text = await res.body.text()
  if (res.statusCode !== 200)
    throw authError(`token endpoint ${src.tokenUrl} answered ${res.statusCode}`, text.slice(0, 200))
  let body: { access_token?: unknown; expires_in?: unknown }
  try {
    body = JSON.parse(text) as typeof body
  } catch {
    body = {}
  }
  if (typeof body.access_token !== 'string')
    throw authError(`token endpoint ${src.tokenUrl}`, 'no access_token in the answer')
  const ttl = typeof body.expires_in === 'number' ? body.expires_in * 1000 : 5 * 60_000
  return { value: body.access_token, expiresAt: Date.now() + ttl }
}

/** A JWT's own `exp`; a token of another shape is read again after five minutes. */
export function tokenExpiry(token: string, now: number): number {
  const payload = token.split('.')[1]
  if (payload !== undefined) {
    try {
      const exp = (JSON.parse(Buffer.from(payload, 'base64url').toString()) as { exp?: unknown }).exp
      if (typeof exp === 'number') return exp * 1000
    } catch {
      // not a JWT
    }
  }
  return now + 5 * 60_000
}

/** A token file rotated by the platform (a Kubernetes projected token, a sidecar): read when needed. */
async function tokenFile(path: string): Promise<Token> {
  const value = (
    await readFile(path, 'utf8').catch((err: unknown) => {
      throw authError(`KAFKA_SASL_OAUTH_TOKEN_FILE ${path}`, err)
    })
  ).trim()
  if (value === '') throw authError(`KAFKA_SASL_OAUTH_TOKEN_FILE ${path}`, 'the file is empty')
  return { value, expiresAt: tokenExpiry(value, Date.now()) }
}

/**
 * AWS MSK IAM: AWS's own signer (aws-msk-iam-sasl-signer-js) turns the default credential chain
 * into an OAUTHBEARER token. Loaded only when chosen, so other installations never load the AWS SDK.
 */
async function mskIamToken(region: string): Promise<Token> {
  const { generateAuthToken } = await import('aws-msk-iam-sasl-signer-js')
  const t = await generateAuthToken({ region }).catch((err: unknown) => {
    throw authError(`AWS MSK IAM signing in ${region}`, err)
  })
  return { value: t.token, expiresAt: t.expiryTime }
}

/** The token provider for an OAUTHBEARER or AWS_MSK_IAM configuration. */
export function tokenProvider(
  sasl: Extract<KafkaSasl, { mechanism: 'OAUTHBEARER' | 'AWS_MSK_IAM' }>,
): () => Promise<OauthbearerProviderResponse> {
  if (sasl.mechanism === 'AWS_MSK_IAM') return cachedTokenProvider(() => mskIamToken(sasl.region))
  const src = sasl.token
  const provider = cachedTokenProvider(() => (src.kind === 'file' ? tokenFile(src.path) : clientCredentials(src)))
  const extensions = sasl.extensions
  if (extensions === undefined) return provider
  // kafkajs sends a token's `extensions` in the SASL message (its types do not list the field).
  return async () => {
    const token: OauthbearerProviderResponse & { extensions: Readonly<Record<string, string>> } = {
      ...(await provider()),
      extensions,
    }
    return token
  }
}
