/**
 * Private instances of the real servers for fault tests: same installed binaries as
 * scripts/services.sh (Kafka and S3Proxy jars under .services/, the machine's PostgreSQL 15 and
 * Redis 7), each with its own data folder and free port, so a test can stop and restart its own
 * server without touching the shared ones that other tests use. Every instance is killed at
 * teardown and, as a last resort, when the test process exits.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createConnection, createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { Kafka, logLevel } from 'kafkajs'
import { projectRoot } from '../../src/paths.js'

const run = promisify(execFile)
const services = join(projectRoot, '.services')
const confDir = join(projectRoot, 'scripts/services')
const PG_BIN = process.env['PG_BIN'] ?? '/usr/lib/postgresql/15/bin'

export interface PrivateServer {
  readonly name: string
  readonly port: number
  /** The value for the bridge's env variable (KAFKA_BROKERS, DATABASE_URL, REDIS_URL, S3_ENDPOINT). */
  readonly endpoint: string
  readonly dir: string
  /** Starts it (first start included) and resolves once it serves. */
  start: () => Promise<void>
  /** Stops it; `kill` is SIGKILL (or `pg_ctl -m immediate`), otherwise a clean stop. */
  stop: (how?: 'clean' | 'kill') => Promise<void>
  readonly running: boolean
  /** Stops it if running and removes its data folder. */
  close: () => Promise<void>
}

/** Last resort when a test process dies without its teardown: no private server outlives it. */
const exitHooks = new Set<() => void>()
process.on('exit', () => {
  for (const h of exitHooks) {
    try {
      h()
    } catch {
      // best effort
    }
  }
})

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.unref()
    s.on('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address()
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0
      s.close(() => resolve(port))
    })
  })
}

async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs: number, alive?: () => boolean) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (alive !== undefined && !alive()) throw new Error(`${what} exited before it was ready`)
    if (await check().catch(() => false)) return
    if (Date.now() > deadline) throw new Error(`${what} not ready after ${timeoutMs} ms`)
    await new Promise((r) => setTimeout(r, 250))
  }
}

/** Sends `payload` to a TCP port and resolves with what came back first (or '' on error). */
function tcpAsk(port: number, payload: string, timeoutMs = 1000): Promise<string> {
  return new Promise((resolve) => {
    const sock = createConnection({ host: '127.0.0.1', port })
    const done = (v: string): void => {
      sock.destroy()
      resolve(v)
    }
    sock.setTimeout(timeoutMs, () => done(''))
    sock.on('error', () => done(''))
    sock.on('connect', () => sock.write(payload))
    sock.on('data', (d) => done(d.toString()))
  })
}

export const privateDir = (name: string): string => {
  const dir = join(services, 'private', `${name}-${randomBytes(4).toString('hex')}`)
  mkdirSync(dir, { recursive: true })
  return dir
}

/** A server that is a child process of the test: start spawns it, stop signals it. */
export function childServer(opts: {
  name: string
  port: number
  endpoint: string
  dir: string
  command: () => { cmd: string; args: string[]; env?: NodeJS.ProcessEnv }
  ready: () => Promise<boolean>
  readyTimeoutMs: number
}): PrivateServer {
  let child: ChildProcess | undefined
  let exited: Promise<void> = Promise.resolve()
  let out = ''
  const kill = (): void => {
    if (child !== undefined && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  }
  const server: PrivateServer = {
    name: opts.name,
    port: opts.port,
    endpoint: opts.endpoint,
    dir: opts.dir,
    get running() {
      return child !== undefined && child.exitCode === null && child.signalCode === null
    },
    async start() {
      if (server.running) return
      const { cmd, args, env } = opts.command()
      const c = spawn(cmd, args, { cwd: opts.dir, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
      child = c
      exitHooks.add(kill)
      exited = new Promise((resolve) => c.on('exit', () => resolve()))
      const keep = (d: Buffer): void => {
        out = (out + d.toString()).slice(-20_000)
      }
      c.stdout?.on('data', keep)
      c.stderr?.on('data', keep)
      try {
        await waitUntil(opts.name, opts.ready, opts.readyTimeoutMs, () => c.exitCode === null && c.signalCode === null)
      } catch (err) {
        kill()
        throw new Error(`${(err as Error).message}\n--- ${opts.name} output ---\n${out.slice(-4000)}`)
      }
    },
    async stop(how = 'clean') {
      if (!server.running || child === undefined) return
      const c = child
      c.kill(how === 'kill' ? 'SIGKILL' : 'SIGTERM')
      const timer = setTimeout(() => c.kill('SIGKILL'), 30_000)
      await exited
      clearTimeout(timer)
      exitHooks.delete(kill)
    },
    async close() {
      await server.stop('kill')
      rmSync(opts.dir, { recursive: true, force: true })
    },
  }
  return server
}

// -------------------------------------------------------------------------------------- Kafka

export interface SaslSslListener {
  /** host:port of the SASL_SSL listener (the value for KAFKA_BROKERS). */
  readonly endpoint: string
  /** PEM CA that signed the broker certificate (the value for KAFKA_SSL_CA_FILE). */
  readonly caFile: string
}

export interface PrivateKafka extends PrivateServer {
  /** Present when started with `saslSsl`. */
  readonly saslSsl: SaslSslListener | undefined
}

export interface ScramUser {
  name: string
  password: string
}

/** Throwaway CA and broker keystore (scripts/services/kafka-tls.sh, the services script's own). */
export async function makeTlsMaterial(dir: string): Promise<{ caFile: string; keystore: string; password: string }> {
  await run('bash', [join(confDir, 'kafka-tls.sh'), dir])
  return {
    caFile: join(dir, 'ca.crt'),
    keystore: join(dir, 'broker.p12'),
    password: readFileSync(join(dir, 'password'), 'utf8').trim(),
  }
}

/**
 * Broker settings of a listener named SASL_SSL over TLS with the given keystore: SCRAM (users made at
 * format time), PLAIN (the same users, from the JAAS line) and OAUTHBEARER with Kafka's built-in
 * unsecured validator (it accepts unsigned JWTs naming a subject: enough to test a client's token
 * provider, never for production).
 */
export function saslSslProps(tls: { keystore: string; password: string }, users: readonly ScramUser[] = []): string[] {
  const scram = 'org.apache.kafka.common.security.scram.ScramLoginModule required;'
  const plainUsers = users.map((u) => ` user_${u.name}="${u.password}"`).join('')
  return [
    'sasl.enabled.mechanisms=SCRAM-SHA-512,SCRAM-SHA-256,PLAIN,OAUTHBEARER',
    `listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=${scram}`,
    `listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=${scram}`,
    `listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required${plainUsers};`,
    'listener.name.sasl_ssl.oauthbearer.sasl.jaas.config=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;',
    `listener.name.sasl_ssl.ssl.keystore.location=${tls.keystore}`,
    'listener.name.sasl_ssl.ssl.keystore.type=PKCS12',
    `listener.name.sasl_ssl.ssl.keystore.password=${tls.password}`,
    `listener.name.sasl_ssl.ssl.key.password=${tls.password}`,
  ]
}

const kafkaLibs = (): string => {
  const libs = join(services, 'kafka/libs')
  if (!existsSync(join(libs, 'VERSION'))) throw new Error(`no Kafka jars in ${libs}: run scripts/services.sh fetch`)
  return libs
}

/** Settings every private Kafka node shares; `replicas` sizes the internal topics and defaults. */
export function kafkaCommonProps(dataDir: string, replicas: number): string[] {
  const minIsr = Math.min(2, replicas)
  return [
    `log.dirs=${dataDir}`,
    `offsets.topic.replication.factor=${replicas}`,
    'offsets.topic.num.partitions=4',
    `transaction.state.log.replication.factor=${replicas}`,
    `transaction.state.log.min.isr=${minIsr}`,
    `share.coordinator.state.topic.replication.factor=${replicas}`,
    `share.coordinator.state.topic.min.isr=${minIsr}`,
    `default.replication.factor=${replicas}`,
    `min.insync.replicas=${minIsr}`,
    'group.initial.rebalance.delay.ms=0',
    'auto.create.topics.enable=false',
    'num.partitions=4',
    'num.network.threads=2',
    'num.io.threads=2',
  ]
}

/**
 * A Kafka cluster id is 16 random bytes in URL-safe Base64 without padding. One in 64 starts with
 * '-', which the tool's argument parser takes for an option (Kafka's own random-uuid skips those).
 */
export function newClusterId(): string {
  let clusterId = randomBytes(16).toString('base64url')
  while (clusterId.startsWith('-')) clusterId = randomBytes(16).toString('base64url')
  return clusterId
}

export async function formatKafkaStorage(dir: string, propsFile: string, clusterId: string, extra: string[]) {
  const java = process.env['JAVA'] ?? 'java'
  const args = ['-Xmx128m', '-cp', `${kafkaLibs()}/*`, 'kafka.tools.StorageTool', 'format']
  await run(java, [...args, `--cluster-id=${clusterId}`, '-c', propsFile, ...extra], { cwd: dir })
}

/** A Kafka node as a child process, ready once an admin call on `port` lists a broker. */
export function kafkaNode(opts: { name: string; dir: string; port: number; propsFile: string; heapMb: number }) {
  const ready = async (): Promise<boolean> => {
    const admin = new Kafka({
      brokers: [`127.0.0.1:${opts.port}`],
      logLevel: logLevel.NOTHING,
      connectionTimeout: 1000,
      retry: { retries: 0 },
    }).admin()
    try {
      await admin.connect()
      const c = await admin.describeCluster()
      return c.brokers.length > 0
    } finally {
      await admin.disconnect().catch(() => undefined)
    }
  }
  return childServer({
    name: opts.name,
    port: opts.port,
    endpoint: `127.0.0.1:${opts.port}`,
    dir: opts.dir,
    readyTimeoutMs: 90_000,
    ready,
    command: () => ({
      cmd: process.env['JAVA'] ?? 'java',
      args: [
        `-Xms${Math.min(256, opts.heapMb)}m`,
        `-Xmx${opts.heapMb}m`,
        '-XX:+UseSerialGC',
        '-XX:TieredStopAtLevel=1',
        '-Djava.awt.headless=true',
        `-Dkafka.logs.dir=${join(opts.dir, 'logs')}`,
        `-Dlog4j2.configurationFile=${join(confDir, 'kafka/log4j2.properties')}`,
        '-cp',
        `${kafkaLibs()}/*`,
        'kafka.Kafka',
        opts.propsFile,
      ],
    }),
  })
}

/**
 * A one-node KRaft Kafka from .services/kafka/libs on its own ports, data dir and heap. With
 * `saslSsl`, a SASL_SSL listener beside the plain one, its users created at format time.
 */
export async function privateKafka(opts: { saslSsl?: { users: readonly ScramUser[] } } = {}): Promise<PrivateKafka> {
  kafkaLibs()
  const dir = privateDir('kafka')
  const ports = new Set<number>()
  while (ports.size < (opts.saslSsl === undefined ? 2 : 3)) ports.add(await freePort())
  const [port = 0, controller = 0, saslPort = 0] = [...ports]
  const tls = opts.saslSsl === undefined ? undefined : await makeTlsMaterial(join(dir, 'tls'))
  const listeners = [
    `PLAINTEXT://127.0.0.1:${port}`,
    `CONTROLLER://127.0.0.1:${controller}`,
    ...(tls === undefined ? [] : [`SASL_SSL://127.0.0.1:${saslPort}`]),
  ].join(',')
  const props = [
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.bootstrap.servers=127.0.0.1:${controller}`,
    'controller.listener.names=CONTROLLER',
    `listeners=${listeners}`,
    `advertised.listeners=${listeners}`,
    'inter.broker.listener.name=PLAINTEXT',
    'listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL',
    ...(tls === undefined ? [] : saslSslProps(tls, opts.saslSsl?.users)),
    ...kafkaCommonProps(join(dir, 'data'), 1),
    '',
  ].join('\n')
  const propsFile = join(dir, 'server.properties')
  writeFileSync(propsFile, props)
  const scram = (opts.saslSsl?.users ?? []).flatMap((u) => [
    '--add-scram',
    `SCRAM-SHA-512=[name=${u.name},password=${u.password}]`,
    '--add-scram',
    `SCRAM-SHA-256=[name=${u.name},password=${u.password}]`,
  ])
  await formatKafkaStorage(dir, propsFile, newClusterId(), ['--standalone', ...scram])
  const server = kafkaNode({ name: 'private Kafka', dir, port, propsFile, heapMb: 384 })
  const saslSsl = tls === undefined ? undefined : { endpoint: `127.0.0.1:${saslPort}`, caFile: tls.caFile }
  return Object.assign(server, { saslSsl })
}

// ---------------------------------------------------------------------------------------- Redis

export async function privateRedis(): Promise<PrivateServer> {
  const dir = privateDir('redis')
  const port = await freePort()
  return childServer({
    name: 'private Redis',
    port,
    endpoint: `redis://127.0.0.1:${port}/0`,
    dir,
    readyTimeoutMs: 15_000,
    ready: async () => (await tcpAsk(port, 'PING\r\n')).startsWith('+PONG'),
    command: () => ({
      cmd: 'redis-server',
      args: ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no'],
    }),
  })
}

// ------------------------------------------------------------------------------------- S3Proxy

export const S3_ACCESS_KEY = 'gwb-local'
export const S3_SECRET_KEY = 'gwb-local-secret-key'

export async function privateS3(): Promise<PrivateServer> {
  const libs = join(services, 's3/libs')
  if (!existsSync(join(libs, 'VERSION'))) throw new Error(`no S3Proxy jars in ${libs}: run scripts/services.sh fetch`)
  const dir = privateDir('s3')
  mkdirSync(join(dir, 'data'))
  const port = await freePort()
  const conf = join(dir, 's3proxy.conf')
  writeFileSync(
    conf,
    [
      `s3proxy.endpoint=http://127.0.0.1:${port}`,
      's3proxy.authorization=aws-v2-or-v4',
      `s3proxy.identity=${S3_ACCESS_KEY}`,
      `s3proxy.credential=${S3_SECRET_KEY}`,
      's3proxy.virtual-host=',
      'jclouds.provider=filesystem-nio2',
      `jclouds.filesystem.basedir=${join(dir, 'data')}`,
      `jclouds.identity=${S3_ACCESS_KEY}`,
      `jclouds.credential=${S3_SECRET_KEY}`,
      '',
    ].join('\n'),
  )
  return childServer({
    name: 'private S3Proxy',
    port,
    endpoint: `http://127.0.0.1:${port}`,
    dir,
    readyTimeoutMs: 60_000,
    // Anonymous GET / is refused (403) once the S3 API is served.
    ready: async () => /^HTTP\/1\.[01] (200|403)/.test(await tcpAsk(port, 'GET / HTTP/1.0\r\n\r\n')),
    command: () => ({
      cmd: process.env['JAVA'] ?? 'java',
      args: [
        '-Xms64m',
        '-Xmx192m',
        '-XX:+UseSerialGC',
        '-XX:TieredStopAtLevel=1',
        `-Dlogback.configurationFile=${join(confDir, 's3proxy/logback.xml')}`,
        '-cp',
        `${libs}/*`,
        'org.gaul.s3proxy.Main',
        '--properties',
        conf,
      ],
    }),
  })
}

// ----------------------------------------------------------------------------------- PostgreSQL

/**
 * initdb in a temp folder, trust auth, its own port and socket folder, database `gwb`. PostgreSQL
 * refuses to run as root, so as root the binaries run as the `postgres` user (which owns the folder).
 * pg_ctl detaches the postmaster, so the exit hook stops it with `pg_ctl stop -m immediate`.
 * With `tls`, it also accepts TLS with a certificate from a throwaway CA (`caFile`).
 */
export async function privatePostgres(opts: { tls?: boolean } = {}): Promise<PrivateServer & { caFile?: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'gwb-private-pg-'))
  const data = join(dir, 'data')
  const asRoot = process.getuid?.() === 0
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim())
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim())
    chownSync(dir, uid, gid)
  }
  const bin = (name: string): [string, string[]] =>
    asRoot ? ['runuser', ['-u', 'postgres', '--', join(PG_BIN, name)]] : [join(PG_BIN, name), []]
  const pg = async (name: string, args: string[]): Promise<string> => {
    const [cmd, pre] = bin(name)
    const { stdout } = await run(cmd, [...pre, ...args], { cwd: dir })
    return stdout
  }
  const pgSync = (name: string, args: string[]): void => {
    const [cmd, pre] = bin(name)
    execFileSync(cmd, [...pre, ...args], { cwd: dir, stdio: 'ignore', timeout: 20_000 })
  }
  const port = await freePort()
  const tls = opts.tls === true ? await makeTlsMaterial(join(dir, 'tls')) : undefined
  if (tls !== undefined && asRoot) {
    // The server reads its key as `postgres` and refuses a key others can read.
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim())
    for (const f of ['tls', 'tls/server.key', 'tls/server.crt']) chownSync(join(dir, f), uid, 0)
  }
  await pg('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8', '--locale=C'])
  const options = [
    `-p ${port}`,
    `-k ${dir}`,
    '-c listen_addresses=127.0.0.1',
    '-c max_connections=60',
    '-c shared_buffers=16MB',
    '-c fsync=off',
    '-c synchronous_commit=off',
    '-c full_page_writes=off',
    ...(tls === undefined
      ? []
      : [
          '-c ssl=on',
          `-c ssl_cert_file=${join(dir, 'tls/server.crt')}`,
          `-c ssl_key_file=${join(dir, 'tls/server.key')}`,
        ]),
  ].join(' ')
  let running = false
  const stopHook = (): void => {
    if (running) pgSync('pg_ctl', ['-D', data, 'stop', '-m', 'immediate', '-w'])
  }
  let created = false
  const server: PrivateServer & { caFile?: string } = {
    ...(tls === undefined ? {} : { caFile: tls.caFile }),
    name: 'private PostgreSQL',
    port,
    endpoint: `postgres://postgres@127.0.0.1:${port}/gwb`,
    dir,
    get running() {
      return running
    },
    async start() {
      if (running) return
      await pg('pg_ctl', ['-D', data, '-o', options, '-l', join(dir, 'postgres.log'), '-w', '-t', '60', 'start'])
      running = true
      exitHooks.add(stopHook)
      if (!created) {
        await pg('createdb', ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', 'gwb'])
        created = true
      }
    },
    async stop(how = 'clean') {
      if (!running) return
      await pg('pg_ctl', ['-D', data, 'stop', '-m', how === 'kill' ? 'immediate' : 'fast', '-w', '-t', '60'])
      running = false
      exitHooks.delete(stopHook)
    },
    async close() {
      await server.stop('kill').catch(() => undefined)
      rmSync(dir, { recursive: true, force: true })
    },
  }
  return server
}
