import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Redis } from 'ioredis'
import t from 'tap'
import { loadConfig } from '../../../src/config/config.js'
import { createRedis } from '../../../src/sinks/cache/redis.js'
import { childServer, freePort, makeTlsMaterial, privateDir } from '../../helpers/private-servers.js'

/** The client connects in the background and queues nothing: ping once it is ready (or never). */
async function pingWhenReady(c: Redis, timeoutMs = 3000): Promise<string> {
  if (c.status !== 'ready') {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`not connected within ${timeoutMs} ms`)), timeoutMs)
      c.once('ready', () => {
        clearTimeout(timer)
        resolve()
      })
    })
  }
  return c.ping()
}

/** A private Redis that speaks TLS only, its certificate from a throwaway CA. */
t.test('rediss:// with REDIS_TLS_CA_FILE reaches a TLS-only Redis; without the CA it does not', async (t) => {
  const dir = privateDir('redis-tls')
  const tls = await makeTlsMaterial(join(dir, 'tls'))
  const port = await freePort()
  const redis = childServer({
    name: 'private TLS Redis',
    port,
    endpoint: `rediss://127.0.0.1:${port}/0`,
    dir,
    readyTimeoutMs: 15_000,
    ready: async () => {
      const c = createRedis(`rediss://127.0.0.1:${port}/0`, readFileSync(tls.caFile))
      try {
        return (await pingWhenReady(c)) === 'PONG'
      } finally {
        c.disconnect()
      }
    },
    command: () => ({
      cmd: 'redis-server',
      args: [
        ...['--port', '0', '--tls-port', String(port), '--bind', '127.0.0.1'],
        ...['--tls-cert-file', join(dir, 'tls/server.crt'), '--tls-key-file', join(dir, 'tls/server.key')],
        ...['--tls-ca-cert-file', tls.caFile, '--tls-auth-clients', 'no', '--save', '', '--appendonly', 'no'],
      ],
    }),
  })
  t.teardown(() => redis.close())
  await redis.start()

  const config = loadConfig({
    CREDENTIALS_KEY: Buffer.alloc(32, 1).toString('base64'),
    REDIS_URL: redis.endpoint,
    REDIS_TLS_CA_FILE: tls.caFile,
  })
  const trusted = createRedis(config.redisUrl, config.redisTlsCa)
  t.teardown(() => trusted.disconnect())
  t.equal(await pingWhenReady(trusted), 'PONG', 'connected over TLS, certificate verified')

  const untrusted = createRedis(config.redisUrl)
  t.teardown(() => untrusted.disconnect())
  await t.rejects(pingWhenReady(untrusted), 'without the CA the certificate is refused')
})
