import t from 'tap'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { collector } from '../../src/cli/io.js'
import { commands, runCli } from '../../src/cli/run.js'

const env = {
  S3_ACCESS_KEY: 'k',
  S3_SECRET_KEY: 's',
  CREDENTIALS_KEY: Buffer.alloc(32, 1).toString('base64'),
}

async function cli(argv: string[], e: Record<string, string> = env) {
  const out = collector()
  const err = collector()
  const code = await runCli(argv, e, out, err)
  return { code, out: out.text(), err: err.text() }
}

t.test('usage errors name the problem and exit 2; help exits 0', async (t) => {
  let r = await cli(['frobnicate'])
  t.equal(r.code, 2)
  t.match(r.err, 'unknown command "frobnicate"')
  r = await cli([])
  t.equal(r.code, 2)
  t.match(r.err, 'usage: gwb <command>')
  r = await cli(['--help'])
  t.equal(r.code, 0)
  for (const name of Object.keys(commands)) t.match(r.out, name)
  for (const name of Object.keys(commands)) {
    r = await cli([name, '--help'])
    t.equal(r.code, 0, `${name} --help`)
    t.match(r.out, `usage: gwb ${name}`)
  }

  r = await cli(['migrate'], { ...env, CREDENTIALS_KEY: 'short' })
  t.equal(r.code, 2)
  t.match(r.err, 'CREDENTIALS_KEY')
  r = await cli(['migrate'], { ...env, KAFKA_BROKERS: 'no port' })
  t.equal(r.code, 2)
  t.match(r.err, 'KAFKA_BROKERS')

  r = await cli(['tenants', 'add'])
  t.equal(r.code, 2)
  t.match(r.err, '--file is required')
  r = await cli(['replay', '--topic', 'genesys-outbound', '--since', '31/01/2025'])
  t.equal(r.code, 2)
  t.match(r.err, '--since must be a date')
  r = await cli(['replay', '--topic', 'genesys-outbound'])
  t.equal(r.code, 2)
  t.match(r.err, 'a range is required')
  r = await cli(['replay', '--topic', 'genesys-outbound', '--from-offset', '-1'])
  t.equal(r.code, 2)
  t.match(r.err, /--from-offset/)
  r = await cli(['replay', '--topic', 'whatsapp-status', '--since', '2025-01-01', '--resend'])
  t.equal(r.code, 2)
  t.match(r.err, '--resend applies to')
  r = await cli(['replay', '--topic', 'nope', '--since', '2025-01-01'])
  t.equal(r.code, 2)
  t.match(r.err, 'unknown topic "nope"')
  r = await cli(['archive', 'replay', '--tenant', 'x', '--since', '2025-02-30'])
  t.equal(r.code, 2)
  t.match(r.err, '--since must be a date')
  r = await cli(['archive', 'replay', '--tenant', 'x', '--since', '2025-02-03', '--direction', 'inbound'])
  t.equal(r.code, 2)
  t.match(r.err, 'not supported')
  r = await cli(['retention', 'sweep', '--days', '0'])
  t.equal(r.code, 2)
  t.match(r.err, '--days must be an integer >= 1')
  r = await cli(['tenants', 'list', '--verbose'])
  t.equal(r.code, 2)
  t.match(r.err, "Unknown option '--verbose'")
  t.notMatch(r.err, /\n\s+at /, 'no stack trace')
})

t.test('docs/cli.md documents every command with an example', async (t) => {
  const doc = await readFile(new URL('../../docs/cli.md', import.meta.url), 'utf8')
  for (const name of Object.keys(commands)) t.match(doc, `gwb ${name}`, name)
  for (const sub of [
    'tenants add',
    'tenants list',
    'tenants show',
    'tenants disable',
    'tenants enable',
    'tenants rotate',
    'credentials reencrypt',
    'archive replay',
    'dead-letters list',
    'dead-letters redrive',
    'retention sweep',
  ]) {
    t.match(doc, `gwb ${sub}`, sub)
  }
})

t.test('--env-file adds variables the environment lacks; --version answers without configuration', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'gwb-env-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const file = join(dir, 'x.env')
  await writeFile(
    file,
    `# a comment\nS3_ACCESS_KEY=k\nS3_SECRET_KEY=s\nCREDENTIALS_KEY=${env.CREDENTIALS_KEY}\nKAFKA_BROKERS=not a broker\n`,
  )
  // The file's KAFKA_BROKERS is bad; the environment's (unset here) would win if set.
  let r = await cli(['--env-file', file, 'migrate'], {})
  t.equal(r.code, 2)
  t.match(r.err, 'KAFKA_BROKERS must be host:port', 'the file was read')
  t.notMatch(r.err, 'S3_ACCESS_KEY', 'and its keys used')
  r = await cli([`--env-file=${file}`, 'migrate'], { KAFKA_BROKERS: 'x:1', DATABASE_URL: 'http://wrong' })
  t.notMatch(r.err, 'KAFKA_BROKERS', 'the environment wins over the file')
  t.match(r.err, 'DATABASE_URL must use')
  r = await cli(['--env-file', join(dir, 'missing.env'), 'migrate'], {})
  t.equal(r.code, 2)
  t.match(r.err, 'no such file')
  r = await cli(['--version'], {})
  t.equal(r.code, 0)
  t.match(r.out, /^gwb \d+\.\d+\.\d+ \(node \d+/)
})

t.test('every command offers a JSON summary (--json)', async (t) => {
  for (const name of Object.keys(commands)) {
    const r = await cli([name, '--help'])
    t.match(r.out, '--json', `${name} --help mentions --json`)
  }
})
