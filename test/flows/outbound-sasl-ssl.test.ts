import { randomBytes, randomUUID } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import { join } from 'node:path'
import t from 'tap'
import { collector } from '../../src/cli/io.js'
import { runCli } from '../../src/cli/run.js'
import { checkKafka, createKafka } from '../../src/sinks/kafka/client.js'
import { startHarness } from '../helpers/bridge-harness.js'
import { spawnBridge } from '../helpers/bridge-process.js'
import { makeTlsMaterial, privateKafka } from '../helpers/private-servers.js'
import { testConfig, testEnv, testLog } from '../helpers/stack.js'
import { waitForTracking } from '../helpers/tracking.js'

/**
 * The bridge on a Kafka reached only through its SASL_SSL listener (SCRAM-SHA-512 over TLS with a
 * private CA), as on a managed cluster: the plain listener's port is given to nothing of the bridge.
 */
t.test('outbound flow over SASL_SSL with SCRAM-SHA-512', async (t) => {
  const password = randomBytes(12).toString('hex')
  const kafka = await privateKafka({ saslSsl: { users: [{ name: 'bridge', password }] } })
  t.teardown(() => kafka.close())
  await kafka.start()
  const sasl = kafka.saslSsl
  if (sasl === undefined) throw new Error('no SASL_SSL listener')
  const secured = {
    KAFKA_BROKERS: sasl.endpoint,
    KAFKA_SECURITY_PROTOCOL: 'SASL_SSL',
    KAFKA_SSL_CA_FILE: sasl.caFile,
    KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512',
    KAFKA_SASL_USERNAME: 'bridge',
    KAFKA_SASL_PASSWORD: password,
  }

  t.test('a signed webhook reaches the fake Meta once, every role on the secured listener', async (t) => {
    const h = await startHarness(secured)
    t.teardown(() => h.close())
    const body = h.genesys.buildOutbound({
      integrationId: h.tenant.genesys.integrationId,
      conversationId: randomUUID(),
      toId: '447700900123',
      text: `over TLS ${randomUUID()}`,
    })
    const res = await h.postGenesys(body)
    t.equal(res.status, 200, res.body)
    const text = (body as { text: string }).text
    const got = await h.meta.waitFor((r) => r.status === 200 && r.raw.includes(text), 30_000)
    t.equal(got.token, h.tenant.whatsapp.accessToken)
    await waitForTracking(h.bridge.resources.sql, (body as { id: string }).id, 'sent')
    t.equal(h.meta.received.filter((r) => r.raw.includes(text)).length, 1, 'sent once')

    // The CLI's Kafka client too: it reads the topics over the same listener.
    const out = collector()
    const err = collector()
    const cli = ['dead-letters', 'list', '--topic', 'genesys-outbound', '--json']
    t.equal(await runCli(cli, h.env, out, err), 0, err.text())
    const denied = collector()
    t.equal(await runCli(cli, { ...h.env, KAFKA_SASL_PASSWORD: 'wrong' }, collector(), denied), 1)
    t.match(denied.text(), /refused the SCRAM-SHA-512 login \(check KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD\)/)
  })

  t.test(
    'every mechanism logs in on the real broker: PLAIN, SCRAM-SHA-256, OAUTHBEARER (token file and grant)',
    async (t) => {
      // Kafka's unsecured validator takes an unsigned JWT naming a subject.
      const b64 = (o: object): string => Buffer.from(JSON.stringify(o)).toString('base64url')
      const now = Math.floor(Date.now() / 1000)
      const jwt = `${b64({ alg: 'none' })}.${b64({ sub: 'bridge', iat: now, exp: now + 3600 })}.`
      const tokenFile = join(kafka.dir, 'token.jwt')
      writeFileSync(tokenFile, jwt)
      let grants = 0
      const idp = createServer((_req, res) => {
        grants++
        res.setHeader('content-type', 'application/json')
        res.end(JSON.stringify({ access_token: jwt, token_type: 'Bearer', expires_in: 3600 }))
      })
      await new Promise<void>((r) => idp.listen(0, '127.0.0.1', r))
      t.teardown(() => new Promise<void>((r) => idp.close(() => r())))
      const addr = idp.address()
      const idpPort = typeof addr === 'object' && addr !== null ? addr.port : 0
      const base = { ...secured, KAFKA_SASL_USERNAME: '', KAFKA_SASL_PASSWORD: '' }
      const variants: Record<string, Record<string, string>> = {
        PLAIN: { KAFKA_SASL_MECHANISM: 'PLAIN', KAFKA_SASL_USERNAME: 'bridge', KAFKA_SASL_PASSWORD: password },
        'SCRAM-SHA-256': {
          KAFKA_SASL_MECHANISM: 'SCRAM-SHA-256',
          KAFKA_SASL_USERNAME: 'bridge',
          KAFKA_SASL_PASSWORD: password,
        },
        'OAUTHBEARER token file': { KAFKA_SASL_MECHANISM: 'OAUTHBEARER', KAFKA_SASL_OAUTH_TOKEN_FILE: tokenFile },
        'OAUTHBEARER client credentials': {
          KAFKA_SASL_MECHANISM: 'OAUTHBEARER',
          KAFKA_SASL_OAUTH_TOKEN_URL: `http://127.0.0.1:${idpPort}/token`,
          KAFKA_SASL_OAUTH_CLIENT_ID: 'bridge',
          KAFKA_SASL_OAUTH_CLIENT_SECRET: 'secret',
        },
      }
      for (const [name, env] of Object.entries(variants)) {
        const { brokers, security } = testConfig({ ...base, ...env }).kafka
        const client = createKafka({ brokers, security, clientId: `mechanism-${name}`, log: testLog })
        await t.resolves(checkKafka(client, brokers, security), `${name} logs in`)
      }
      t.ok(grants >= 1, 'the grant asked the token endpoint')
      const wrong = testConfig({ ...base, ...variants['PLAIN'], KAFKA_SASL_PASSWORD: 'nope' }).kafka
      await t.rejects(
        checkKafka(createKafka({ ...wrong, clientId: 'mechanism-wrong', log: testLog }), wrong.brokers, wrong.security),
        { code: 'GWB_KAFKA_AUTH', message: /refused the PLAIN login/ },
      )
    },
  )

  t.test('a wrong password stops the start with a message naming the login and its variables', async (t) => {
    const err = await spawnBridge(
      testEnv({ ...secured, KAFKA_SASL_PASSWORD: 'not-the-password', HTTP_PORT: '0' }),
    ).then(
      async (b) => {
        await b.kill('SIGKILL')
        return 'started'
      },
      (e: unknown) => String(e),
    )
    t.match(err, /bridge exited \(1\) before it started/)
    t.match(
      err,
      /start failed: Kafka at 127\.0\.0\.1:\d+ \(SASL_SSL\) refused the SCRAM-SHA-512 login \(check KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD\)/,
    )
    t.match(err, /"code":"GWB_KAFKA_AUTH"/)
    t.notMatch(err, /not-the-password/, 'the password is not logged')
  })

  t.test('a broker certificate from another CA stops the start with a message naming the CA file', async (t) => {
    const other = await makeTlsMaterial(join(kafka.dir, 'other-ca'))
    const err = await spawnBridge(testEnv({ ...secured, KAFKA_SSL_CA_FILE: other.caFile, HTTP_PORT: '0' })).then(
      async (b) => {
        await b.kill('SIGKILL')
        return 'started'
      },
      (e: unknown) => String(e),
    )
    t.match(err, /bridge exited \(1\) before it started/)
    t.match(
      err,
      /start failed: Kafka at 127\.0\.0\.1:\d+ \(SASL_SSL\): the broker's TLS certificate is not trusted \(check KAFKA_SSL_CA_FILE/,
    )
  })
})
