import { createServer, type IncomingHttpHeaders } from 'node:http'
import { request } from 'undici'

/**
 * A registry that requires credentials: a proxy in front of the real one that answers 401 to a
 * request without the expected Authorization header (when one is expected), 403 to any write when
 * the credentials are read-only, and records every request it saw. A write is what a registry's
 * access control counts as one: registering a version, changing a config, deleting; looking a schema
 * up under its subject is a POST too (Confluent's API) but a read.
 */
export async function guardedRegistry(target: string, expected: string | undefined, opts: { readOnly?: boolean } = {}) {
  const seen: Array<{ method: string; path: string; authorization: string | undefined }> = []
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const path = req.url ?? '/'
      seen.push({ method: req.method ?? '', path, authorization: req.headers.authorization })
      if (expected !== undefined && req.headers.authorization !== expected) {
        res.writeHead(401, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ error_code: 40101, message: 'Unauthorized' }))
        return
      }
      if (opts.readOnly === true && isWrite(req.method ?? '', path)) {
        res.writeHead(403, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ error_code: 40301, message: 'Forbidden: read-only credentials' }))
        return
      }
      const headers: IncomingHttpHeaders = { ...req.headers }
      delete headers.host
      delete headers.authorization
      delete headers.connection
      request(`${target}${path}`, {
        method: req.method as 'GET',
        headers: headers as Record<string, string>,
        body: chunks.length > 0 ? Buffer.concat(chunks) : undefined,
      })
        .then(async (up) => {
          const body = Buffer.from(await up.body.arrayBuffer())
          res.writeHead(up.statusCode, { 'content-type': String(up.headers['content-type'] ?? 'application/json') })
          res.end(body)
        })
        .catch((err: unknown) => {
          res.writeHead(502)
          res.end(String(err))
        })
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const addr = server.address()
  const port = typeof addr === 'object' && addr !== null ? addr.port : 0
  const base = new URL(target)
  return {
    url: `http://127.0.0.1:${port}${base.pathname}`,
    seen,
    close: () => new Promise<void>((r) => server.close(() => r())),
  }
}

/** Whether a registry call writes (see above). */
export function isWrite(method: string, path: string): boolean {
  if (method === 'GET' || method === 'HEAD') return false
  return !(method === 'POST' && /\/subjects\/[^/]+$/.test(path.split('?')[0] ?? ''))
}
