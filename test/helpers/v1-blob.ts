import { createCipheriv, randomBytes } from 'node:crypto'

/**
 * A credential blob as the first release wrote it (version 1 | IV | tag | ciphertext, AAD
 * "tenant:type", no key id), for tests that upgrade a database written by it.
 */
export function v1Blob(key: Buffer, aad: string, value: unknown): Buffer {
  const iv = randomBytes(12)
  const c = createCipheriv('aes-256-gcm', key, iv)
  c.setAAD(Buffer.from(aad))
  const body = Buffer.concat([c.update(JSON.stringify(value)), c.final()])
  return Buffer.concat([Buffer.from([1]), iv, c.getAuthTag(), body])
}
