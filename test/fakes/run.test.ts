import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { runFakes } from '../../src/fakes/run.js'
import { createGenesysClient } from '../../src/sinks/genesys-client.js'
import { createMetaClient } from '../../src/sinks/meta-client.js'

t.test('runFakes loads tenants from a JSON file and from flags', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fakes-'))
  const file = join(dir, 'fakes.json')
  writeFileSync(
    file,
    JSON.stringify({
      tenants: [
        {
          phoneNumberId: '111',
          accessToken: 'tok-111',
          appSecret: 's1',
          clientId: 'c1',
          clientSecret: 'cs1',
          integrationId: 'i1',
        },
      ],
    }),
  )
  const fakes = await runFakes([
    '--config',
    file,
    '--meta-number',
    '222:tok-222:s2',
    '--genesys-client',
    'c2:cs:2:i2',
    '--meta-latency',
    '1,5',
  ])
  const meta = createMetaClient({
    graphUrl: fakes.meta.url,
    apiVersion: 'v21.0',
    downloadMedia: () => Promise.reject(new Error('not used here')),
  })
  const genesys = createGenesysClient({ apiUrl: fakes.genesys.url, loginUrl: fakes.genesys.url })
  t.teardown(async () => {
    await meta.close()
    await genesys.close()
    await fakes.close()
  })
  const body = { messaging_product: 'whatsapp', to: '447700900123', type: 'text', text: { body: 'x' } }
  t.equal((await meta.sendMessage({ phoneNumberId: '111', accessToken: 'tok-111', body })).ok, true)
  t.equal((await meta.sendMessage({ phoneNumberId: '222', accessToken: 'tok-222', body })).ok, true)
  t.ok((await genesys.getToken({ clientId: 'c1', clientSecret: 'cs1' })).accessToken)
  // A secret with ':' survives the flag syntax: the first part is the id, the last the integration.
  t.ok((await genesys.getToken({ clientId: 'c2', clientSecret: 'cs:2' })).accessToken)
  await t.rejects(genesys.getToken({ clientId: 'c2', clientSecret: 'cs' }))
})

t.test('bad flags stop the start with a message naming the flag', async (t) => {
  await t.rejects(runFakes(['--meta-port', 'abc']), /--meta-port/)
  await t.rejects(runFakes(['--meta-latency', '50,10']), /--meta-latency/)
  await t.rejects(runFakes(['--meta-number', 'only-one-part']), /--meta-number/)
})
