import t from 'tap'
import { spawn, spawnSync } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { projectRoot } from '../src/paths.js'
import { createTestDb } from './helpers/db.js'
import { testEnv } from './helpers/stack.js'

/** The commands the README says work as they are, right after `bash scripts/run.sh`. */
function readmeCliExamples(): string[] {
  const readme = readFileSync(join(projectRoot, 'README.md'), 'utf8')
  const at = readme.indexOf('these work as they are:')
  const block = /```sh\n([\s\S]*?)```/.exec(readme.slice(at))
  if (at < 0 || block === null) throw new Error('README.md has no block of CLI examples that work as they are')
  return (block[1] ?? '').split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#'))
}

/**
 * A newcomer's first minutes: the README's first command starts the sandbox, and its CLI examples,
 * typed verbatim in a fresh shell (nothing exported), succeed. The sandbox here gets its own database,
 * topic prefix, ports and env file (GWB_ENV_FILE), so a sandbox already running on this machine is left
 * alone (run.sh keeps the addresses its caller exported).
 */
t.test('the README CLI examples work verbatim in a fresh shell after bash scripts/run.sh', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gwb-sandbox-'))
  const envFile = join(dir, 'sandbox.env')
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  // Its own database too: the machine's sandbox database may be at another branch's schema version.
  const db = await createTestDb({ migrate: false })
  t.teardown(() => db.drop())
  const env: Record<string, string | undefined> = {
    ...process.env,
    DATABASE_URL: db.url,
    GWB_ENV_FILE: envFile,
    TOPIC_PREFIX: `t-${randomUUID().slice(0, 8)}-`,
    HTTP_PORT: '0',
    ADMIN_PORT: '0',
    FAKE_META_PORT: '0',
    FAKE_GENESYS_PORT: '0',
    LOG_LEVEL: 'info',
  }
  for (const k of ['META_GRAPH_URL', 'CREDENTIALS_KEY', 'S3_ACCESS_KEY', 'S3_SECRET_KEY', 'KAFKA_GROUP_PREFIX']) {
    delete env[k]
  }
  // Its own process group, so the teardown stops run.sh and the node it execs, and nothing else.
  const sandbox = spawn('bash', ['scripts/run.sh'], { cwd: projectRoot, env, detached: true, stdio: 'pipe' })
  const exited = new Promise<void>((resolve) => sandbox.on('exit', () => resolve()))
  t.teardown(async () => {
    if (sandbox.exitCode === null && sandbox.signalCode === null) process.kill(-(sandbox.pid as number), 'SIGTERM')
    await exited
  })
  let out = ''
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      out += chunk.toString()
      if (out.includes('"msg":"sandbox ready')) resolve()
    }
    sandbox.stdout.on('data', onData)
    sandbox.stderr.on('data', onData)
    void exited.then(() => reject(new Error(`the sandbox exited before it was ready:\n${out.slice(-4000)}`)))
  })
  t.equal(statSync(envFile).mode & 0o777, 0o600, 'the env file (it holds the credentials key) is owner-only')

  const examples = readmeCliExamples()
  t.ok(examples.length >= 5, 'the README shows CLI examples')
  const fresh = {
    PATH: process.env['PATH'] ?? '/usr/bin:/bin',
    HOME: process.env['HOME'] ?? dir,
    GWB_ENV_FILE: envFile,
  }
  for (const cmd of examples) {
    const r = spawnSync('bash', ['-c', cmd], { cwd: projectRoot, env: fresh, encoding: 'utf8', timeout: 120_000 })
    t.equal(r.status, 0, `${cmd}\n${r.stdout}\n${r.stderr}`)
    t.notMatch(r.stderr, /"level":|kafkajs|Warning:/i, `${cmd}: no library log lines or runtime warnings`)
    if (cmd.includes('tenants list')) t.match(r.stdout, /\bsandbox\b/, 'the sandbox tenant is listed')
  }
})

t.test("tests never use the sandbox's database, whatever DATABASE_URL says", async (t) => {
  const before = process.env['DATABASE_URL']
  t.teardown(() => {
    if (before === undefined) delete process.env['DATABASE_URL']
    else process.env['DATABASE_URL'] = before
  })
  process.env['DATABASE_URL'] = 'postgres://postgres@127.0.0.1:5432/gwb'
  t.equal(new URL(testEnv()['DATABASE_URL'] ?? '').pathname, '/gwb_test', 'gwb (the sandbox) becomes gwb_test')
  process.env['DATABASE_URL'] = 'postgres://postgres@127.0.0.1:5432/gwb_mine'
  t.equal(new URL(testEnv()['DATABASE_URL'] ?? '').pathname, '/gwb_mine', "a developer's own database is kept")
  t.equal(testEnv()['S3_BUCKET_PREFIX'], 'gwb-test-', 'and the suite has buckets of its own')
})
