import t from 'tap'
import { Writable } from 'node:stream'
import { createLogger } from '../src/log.js'

t.test('credentials logged by mistake, with a rotated-out secret in its overlap, show no secret', async (t) => {
  const chunks: string[] = []
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk.toString())
      done()
    },
  })
  const log = createLogger('info', sink)
  const genesys = {
    clientId: 'client-id',
    clientSecret: 'client-SECRET-1',
    webhookSecret: 'webhook-SECRET-2',
    integrationId: 'int-1',
    previousWebhookSecret: { secret: 'webhook-SECRET-old', until: 1 },
  }
  const whatsapp = { appSecret: 'app-SECRET-3', previousAppSecret: { secret: 'app-SECRET-old', until: 1 } }
  log.info({ genesys, tenant: { credentials: { whatsapp } } }, 'logged by mistake')
  const text = chunks.join('')
  t.match(text, /logged by mistake/)
  t.match(text, /"integrationId":"int-1"/, 'non-secret fields stay')
  t.notMatch(text, /SECRET/, 'no secret, current or previous, at any depth')
})
