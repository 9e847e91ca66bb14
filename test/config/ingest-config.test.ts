import t from 'tap'
import { loadConfig } from '../../src/config/config.js'
import { configProblems, minimalEnv } from '../helpers/config-env.js'

t.test('the admin port, drain delay and ingest limits have defaults', async (t) => {
  const c = loadConfig(minimalEnv)
  t.same(c.admin, { host: '0.0.0.0', port: 9464 })
  t.equal(c.shutdownDrainMs, 5000)
  t.equal(c.http.maxInFlightBytes, 64 * 1024 * 1024)
  t.equal(c.http.bodyTimeoutMs, 30_000)
  t.equal(c.http.headersTimeoutMs, 10_000)
  t.same(c.http.trustedProxyList, [])
  t.notOk(c.http.trustedProxies.trusts('10.0.0.1'), 'no proxy is trusted unless listed')
  t.equal(loadConfig({ ...minimalEnv, HTTP_HOST: '127.0.0.1' }).admin.host, '127.0.0.1', 'ADMIN_HOST follows HTTP_HOST')
})

t.test('TRUSTED_PROXIES is parsed into ranges', async (t) => {
  const c = loadConfig({ ...minimalEnv, TRUSTED_PROXIES: ' 10.0.0.0/8, 2001:db8::/32 ,192.0.2.7' })
  t.same(c.http.trustedProxyList, ['10.0.0.0/8', '2001:db8::/32', '192.0.2.7'])
  t.ok(c.http.trustedProxies.trusts('10.200.0.1'))
  t.ok(c.http.trustedProxies.trusts('192.0.2.7'))
  t.notOk(c.http.trustedProxies.trusts('192.0.2.8'))
})

t.test('wrong values are reported, each naming its variable', async (t) => {
  const msg = configProblems({
    ...minimalEnv,
    TRUSTED_PROXIES: '10.0.0.0/8,not-an-address,10.0.0.0/40',
    HTTP_PORT: '8080',
    ADMIN_PORT: '8080',
    HTTP_MAX_BODY_BYTES: '2000000',
    INGEST_MAX_INFLIGHT_BYTES: '1000000',
    SHUTDOWN_DRAIN_MS: '-1',
  })
  t.match(msg, /TRUSTED_PROXIES: "not-an-address"/)
  t.match(msg, /TRUSTED_PROXIES: "10\.0\.0\.0\/40"/)
  t.match(msg, /ADMIN_PORT must differ from HTTP_PORT/)
  t.match(msg, /INGEST_MAX_INFLIGHT_BYTES must be at least HTTP_MAX_BODY_BYTES/)
  t.match(msg, /SHUTDOWN_DRAIN_MS/)
  t.equal(configProblems({ ...minimalEnv, HTTP_PORT: '0', ADMIN_PORT: '0' }), '', 'two ephemeral ports are fine')
})
