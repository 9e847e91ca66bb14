import { readFileSync } from 'node:fs'
import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import { serveControl } from './control.js'
import { createFakeGenesys, type FakeGenesys, type GenesysClient } from './fake-genesys.js'
import { createFakeMeta, type FakeMeta, type MetaNumber, type MetaRateLimits } from './fake-meta.js'
import type { LatencyModel } from './fault-plan.js'
import type { StatusWebhookOptions } from './meta-status-emitter.js'

/**
 * Starts both fakes for the bench and the sandbox:
 *   node dist/src/fakes/run.js --meta-port 4010 --genesys-port 4020 --config fakes.json [--host 0.0.0.0]
 * Credentials come from the JSON file and/or repeated flags:
 *   --meta-number <phoneNumberId>:<accessToken>:<appSecret>
 *   --genesys-client <clientId>:<clientSecret>:<integrationId>
 * Latency: --meta-latency-ms 50 or --meta-latency 40,250 (median,p99); same for --genesys-….
 * Status webhooks of accepted sends, as Meta sends them: --meta-status-webhook <bridge>/webhook/meta,
 * with --meta-status-delay-ms N and --meta-status-loss <0..1> (or meta.statusWebhooks in the file).
 * Prints one JSON line with both URLs once listening; stops on SIGINT/SIGTERM. Started with an IPC
 * channel (child_process.fork), it also serves the control channel of control.ts and stops when its
 * parent goes away.
 */

export interface FakesConfig {
  meta?: {
    numbers?: MetaNumber[]
    latency?: LatencyModel
    rateLimits?: MetaRateLimits
    fetchLinks?: boolean
    statusWebhooks?: StatusWebhookOptions
  }
  genesys?: { clients?: GenesysClient[]; latency?: LatencyModel; rateLimitPerMinute?: number; fetchUrls?: boolean }
  /** Shorthand: one entry per tenant with both platforms' credentials. */
  tenants?: (MetaNumber & GenesysClient)[]
}

export interface RunningFakes {
  meta: FakeMeta
  genesys: FakeGenesys
  close(): Promise<void>
}

function latencyArg(fixed: string | undefined, dist: string | undefined, flag: string): LatencyModel | undefined {
  if (dist !== undefined) {
    const [medianMs, p99Ms] = dist.split(',').map(Number)
    if (medianMs === undefined || p99Ms === undefined || !(medianMs >= 0 && p99Ms >= medianMs)) {
      throw new Error(`${flag} must be <medianMs>,<p99Ms> with p99 ≥ median, got ${dist}`)
    }
    return { medianMs, p99Ms }
  }
  if (fixed === undefined) return undefined
  const ms = Number(fixed)
  if (!(ms >= 0)) throw new Error(`${flag}-ms must be a number of milliseconds, got ${fixed}`)
  return ms
}

/** `a:b:c` where the middle part may itself contain ':' (secrets can; ids and tokens do not). */
function triple(s: string, flag: string): [string, string, string] {
  const first = s.indexOf(':')
  const last = s.lastIndexOf(':')
  const [a, b, c] = [s.slice(0, first), s.slice(first + 1, last), s.slice(last + 1)]
  if (first < 0 || last === first || !a || !b || !c)
    throw new Error(`${flag} expects three ':'-separated parts, got ${s}`)
  return [a, b, c]
}

function port(v: string | undefined, flag: string): number {
  const p = Number(v ?? '0')
  if (!Number.isInteger(p) || p < 0 || p > 65535) throw new Error(`${flag} must be a TCP port, got ${v}`)
  return p
}

function statusWebhookArgs(v: Record<string, unknown>): StatusWebhookOptions | undefined {
  const url = v['meta-status-webhook']
  if (typeof url !== 'string') return undefined
  const delay = Number(v['meta-status-delay-ms'] ?? '0')
  const loss = Number(v['meta-status-loss'] ?? '0')
  if (!(delay >= 0)) throw new Error(`--meta-status-delay-ms must be a number of milliseconds`)
  if (!(loss >= 0 && loss <= 1)) throw new Error(`--meta-status-loss must be between 0 and 1`)
  return { url, delay, lossRate: loss }
}

export async function runFakes(argv: string[]): Promise<RunningFakes> {
  const { values } = parseArgs({
    args: argv,
    options: {
      'meta-port': { type: 'string' },
      host: { type: 'string' },
      'genesys-port': { type: 'string' },
      config: { type: 'string' },
      'meta-number': { type: 'string', multiple: true },
      'genesys-client': { type: 'string', multiple: true },
      'meta-latency-ms': { type: 'string' },
      'meta-latency': { type: 'string' },
      'genesys-latency-ms': { type: 'string' },
      'genesys-latency': { type: 'string' },
      'meta-mps': { type: 'string' },
      'no-fetch-links': { type: 'boolean' },
      'meta-status-webhook': { type: 'string' },
      'meta-status-delay-ms': { type: 'string' },
      'meta-status-loss': { type: 'string' },
    },
    strict: true,
  })
  const cfg: FakesConfig = values.config ? (JSON.parse(readFileSync(values.config, 'utf8')) as FakesConfig) : {}
  const numbers: MetaNumber[] = [...(cfg.meta?.numbers ?? []), ...(cfg.tenants ?? [])]
  const clients: GenesysClient[] = [...(cfg.genesys?.clients ?? []), ...(cfg.tenants ?? [])]
  for (const s of values['meta-number'] ?? []) {
    const [phoneNumberId, accessToken, appSecret] = triple(s, '--meta-number')
    numbers.push({ phoneNumberId, accessToken, appSecret })
  }
  for (const s of values['genesys-client'] ?? []) {
    const [clientId, clientSecret, integrationId] = triple(s, '--genesys-client')
    clients.push({ clientId, clientSecret, integrationId })
  }
  const metaLatency =
    latencyArg(values['meta-latency-ms'], values['meta-latency'], '--meta-latency') ?? cfg.meta?.latency
  const genesysLatency =
    latencyArg(values['genesys-latency-ms'], values['genesys-latency'], '--genesys-latency') ?? cfg.genesys?.latency
  const mps = values['meta-mps'] === undefined ? undefined : Number(values['meta-mps'])
  const rateLimits = mps !== undefined ? { ...cfg.meta?.rateLimits, perNumberMps: mps } : cfg.meta?.rateLimits

  const meta = await createFakeMeta({
    port: port(values['meta-port'], '--meta-port'),
    ...(values.host !== undefined ? { host: values.host } : {}),
    fetchLinks: values['no-fetch-links'] ? false : (cfg.meta?.fetchLinks ?? true),
    ...(metaLatency !== undefined ? { latency: metaLatency } : {}),
    ...(rateLimits !== undefined ? { rateLimits } : {}),
  })
  const genesys = await createFakeGenesys({
    port: port(values['genesys-port'], '--genesys-port'),
    ...(values.host !== undefined ? { host: values.host } : {}),
    ...(genesysLatency !== undefined ? { latency: genesysLatency } : {}),
    ...(cfg.genesys?.rateLimitPerMinute !== undefined ? { rateLimitPerMinute: cfg.genesys.rateLimitPerMinute } : {}),
    ...(cfg.genesys?.fetchUrls !== undefined ? { fetchUrls: cfg.genesys.fetchUrls } : {}),
  })
  const statusWebhooks = statusWebhookArgs(values) ?? cfg.meta?.statusWebhooks
  if (statusWebhooks !== undefined) meta.setStatusWebhooks(statusWebhooks)
  for (const n of numbers) meta.addNumber(n)
  for (const c of clients) genesys.addClient(c)
  return {
    meta,
    genesys,
    close: async () => {
      await Promise.all([meta.close(), genesys.close()])
    },
  }
}

async function main(): Promise<void> {
  const fakes = await runFakes(process.argv.slice(2))
  process.stdout.write(
    `${JSON.stringify({ fakes: 'listening', metaUrl: fakes.meta.url, genesysUrl: fakes.genesys.url })}\n`,
  )
  let stopping = false
  const stop = (): void => {
    if (stopping) return
    stopping = true
    void fakes.close().then(() => process.exit(0))
  }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
  serveControl(fakes, stop)
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    process.stderr.write(`fakes: ${err instanceof Error ? err.message : String(err)}\n`)
    process.exit(1)
  })
}
