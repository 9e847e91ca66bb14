import { createServer } from 'node:http'
import { randomUUID } from 'node:crypto'
import t from 'tap'
import { createObjectStore } from '../../src/sinks/object-store.js'
import { testConfig } from '../helpers/stack.js'

/**
 * No static keys: the store asks the AWS credential chain, here its last link, the instance role
 * from the metadata service (IMDSv2: a session token first, then the role's temporary keys). The
 * metadata service is a stand-in on a local port handing out the local S3 server's keys.
 */
t.test('without static keys the instance role of the metadata service signs the requests', async (t) => {
  const s3 = testConfig().s3
  const calls: string[] = []
  const imds = createServer((req, res) => {
    // The client joins the role name with a double slash; the real service accepts that too.
    const path = (req.url ?? '').replace(/\/{2,}/g, '/')
    calls.push(`${req.method} ${path}`)
    if (req.method === 'PUT' && path === '/latest/api/token') return res.end('imds-session')
    if (req.headers['x-aws-ec2-metadata-token'] !== 'imds-session') {
      res.statusCode = 401
      return res.end()
    }
    if (path === '/latest/meta-data/iam/security-credentials/') return res.end('gwb-bridge-role')
    if (path === '/latest/meta-data/iam/security-credentials/gwb-bridge-role') {
      res.setHeader('content-type', 'application/json')
      return res.end(
        JSON.stringify({
          Code: 'Success',
          AccessKeyID: s3.accessKey,
          SecretAccessKey: s3.secretKey,
          // AWS also hands out a session Token; S3Proxy refuses requests that carry one
          // (MethodNotAllowed), so the local stand-in gives keys only.
          Expiration: new Date(Date.now() + 3_600_000).toISOString(),
        }),
      )
    }
    res.statusCode = 404
    res.end()
  })
  await new Promise<void>((r) => imds.listen(0, '127.0.0.1', r))
  t.teardown(() => new Promise<void>((r) => imds.close(() => r())))
  const addr = imds.address()
  const port = typeof addr === 'object' && addr !== null ? addr.port : 0

  const bucket = `gwb-chain-${randomUUID().slice(0, 8)}`
  const store = createObjectStore({
    endpoint: s3.endpoint,
    region: s3.region,
    iamEndpoint: `http://127.0.0.1:${port}`,
  })
  t.teardown(() => store.close())
  await store.ensureBuckets([bucket])
  await store.putObject(bucket, 'k.txt', Buffer.from('via the instance role'), 'text/plain')
  t.equal((await store.getObject(bucket, 'k.txt')).toString(), 'via the instance role')
  t.ok(calls.includes('PUT /latest/api/token'), 'IMDSv2 session token asked first')
  t.ok(calls.includes('GET /latest/meta-data/iam/security-credentials/gwb-bridge-role'), "the role's keys fetched")
  await store.removeObjects(bucket, ['k.txt'])
})
