import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { startBridge } from './app/bridge.js'
import { sandboxEnvFile } from './cli/env-file.js'
import { loadConfig, serverVariables } from './config/config.js'
import { errorMessage } from './errors.js'
import { createFakeGenesys } from './fakes/fake-genesys.js'
import { createFakeMeta } from './fakes/fake-meta.js'
import { createLogger } from './log.js'
import { hideKnownRuntimeWarnings } from './runtime-warnings.js'
import { projectRoot } from './paths.js'
import { validateTenantSpec } from './processors/tenant-spec.js'
import { upsertTenant } from './sinks/db/tenants.js'

/**
 * The sandbox: the whole bridge against local fakes of Meta and Genesys, with the sandbox tenant
 * of examples/tenants/sandbox.json provisioned. An entry point, so it may read the environment.
 * The credentials key is generated once and kept under .services/ (never in git).
 */
function sandboxKey(): string {
  const dir = join(projectRoot, '.services')
  const file = join(dir, 'credentials.key')
  if (!existsSync(file)) {
    mkdirSync(dir, { recursive: true })
    writeFileSync(file, randomBytes(32).toString('base64'), { mode: 0o600 })
  }
  return readFileSync(file, 'utf8').trim()
}

/** What the CLI needs to reach the same servers, topics and keys as this sandbox. */
const SHARED_SETTINGS = [
  ...serverVariables,
  'S3_REGION',
  'CREDENTIALS_KEY',
  'TOPIC_PREFIX',
  'KAFKA_GROUP_PREFIX',
  'META_GRAPH_URL',
  'META_API_VERSION',
  'GENESYS_API_URL',
  'GENESYS_LOGIN_URL',
] as const

/**
 * The sandbox's settings, for the CLI (which reads this file when it exists, see src/cli/env-file.ts),
 * so the README's commands work in any shell right after `bash scripts/run.sh`. Holds the
 * credentials key: owner-readable only, under git-ignored .services/.
 */
function writeEnvFile(env: Record<string, string | undefined>): string {
  const file = sandboxEnvFile(env)
  const lines = SHARED_SETTINGS.filter((k) => env[k] !== undefined && env[k] !== '').map((k) => `${k}=${env[k]}`)
  try {
    mkdirSync(dirname(file), { recursive: true })
    writeFileSync(file, `# written by the sandbox (src/sandbox.ts); read by gwb\n${lines.join('\n')}\n`, {
      mode: 0o600,
    })
  } catch (err) {
    // A read-only checkout or container: the sandbox runs all the same; the CLI then needs its variables.
    return `not written (${errorMessage(err)}); set GWB_ENV_FILE to a writable path`
  }
  return file
}

async function main(): Promise<void> {
  hideKnownRuntimeWarnings()
  const specFile = process.env['SANDBOX_TENANT_FILE'] ?? join(projectRoot, 'examples/tenants/sandbox.json')
  const spec = validateTenantSpec(JSON.parse(readFileSync(specFile, 'utf8')))
  if (!spec.ok) throw new Error(`${specFile}: ${spec.errors.join('; ')}`)
  const tenant = spec.value

  const meta = await createFakeMeta({
    port: Number(process.env['FAKE_META_PORT'] ?? 4010),
    latency: { medianMs: 80, p99Ms: 300 },
    maxRecorded: 1000,
  })
  const genesys = await createFakeGenesys({ port: Number(process.env['FAKE_GENESYS_PORT'] ?? 4020), maxRecorded: 1000 })
  meta.addNumber({ ...tenant.whatsapp })
  genesys.addClient({ ...tenant.genesys })

  const env = {
    ...process.env,
    CREDENTIALS_KEY: process.env['CREDENTIALS_KEY'] ?? sandboxKey(),
    S3_ACCESS_KEY: process.env['S3_ACCESS_KEY'] ?? 'gwb-local',
    S3_SECRET_KEY: process.env['S3_SECRET_KEY'] ?? 'gwb-local-secret-key',
    META_GRAPH_URL: meta.url,
    GENESYS_API_URL: genesys.apiUrl,
    GENESYS_LOGIN_URL: genesys.loginUrl,
    // The fakes' downloads (attachments, media) are local http: allowed by exact host:port only.
    FETCH_INSECURE_ORIGINS: [meta.url, genesys.apiUrl].map((u) => new URL(u).host).join(','),
  }
  const config = loadConfig(env)
  const log = createLogger(config.logLevel)
  const bridge = await startBridge(config, log)
  const envFile = writeEnvFile(env)
  await upsertTenant(bridge.resources.sql, config.credentialsKey, tenant)
  await bridge.resources.directory.invalidateTenant(tenant.id)

  log.info(
    {
      ingest: `http://127.0.0.1:${bridge.port}`,
      admin: `http://127.0.0.1:${bridge.adminPort}`,
      fakeMeta: meta.url,
      fakeGenesys: genesys.url,
      tenant: tenant.id,
      cliEnvFile: envFile,
    },
    'sandbox ready: POST signed webhooks to /webhook/genesys (see README)',
  )
  // Show what the customer side "received", so a newcomer sees the flow end to end.
  let lastSeq = -1
  const timer = setInterval(() => {
    for (const r of meta.received.filter((x) => x.seq > lastSeq)) {
      lastSeq = r.seq
      log.info(
        { to: (r.body as { to?: string } | undefined)?.to, status: r.status, wamid: r.wamid, body: r.body },
        'fake Meta received a send',
      )
    }
  }, 500)

  const stop = (): void => {
    clearInterval(timer)
    void bridge
      .stop()
      .then(() => Promise.all([meta.close(), genesys.close()]))
      .finally(() => process.exit(0))
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
}

main().catch((err: unknown) => {
  process.stderr.write(`sandbox failed to start: ${errorMessage(err)}\n`)
  process.exit(1)
})
