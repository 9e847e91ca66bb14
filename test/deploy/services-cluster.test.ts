import { execFile } from 'node:child_process'
import { existsSync, readFileSync, rmSync, symlinkSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import kafkajs, { Kafka, logLevel } from 'kafkajs'
import t from 'tap'
import { loadConfig } from '../../src/config/config.js'
import { projectRoot } from '../../src/paths.js'
import { freePort, privateDir } from '../helpers/private-servers.js'
import { testEnv } from '../helpers/stack.js'

const run = promisify(execFile)
const script = join(projectRoot, 'scripts/services.sh')
const libs = join(projectRoot, '.services/kafka/libs')

/**
 * The three-broker profile of scripts/services.sh, as anyone runs it (`up|status|env|down --brokers 3`),
 * in a private services folder on free ports: three KRaft nodes that see each other, the
 * environment a bridge needs for them, each node's status, and a clean stop. The shared servers the
 * profile reuses (registry, S3, PostgreSQL, Redis) are the suite's own, already running.
 */
t.test('services.sh --brokers 3: a three-node cluster up, reported, described and down', async (t) => {
  if (!existsSync(join(libs, 'VERSION'))) throw new Error(`no Kafka jars in ${libs}: run scripts/services.sh fetch`)
  const dir = privateDir('services-cluster')
  symlinkSync(libs, join(dir, 'kafka-libs'))
  const ports = new Set<number>()
  while (ports.size < 6) ports.add(await freePort())
  const [b1, b2, b3, c1, c2, c3] = [...ports]
  const env = {
    ...process.env,
    SERVICES_DIR: dir,
    KAFKA_LIBS: join(dir, 'kafka-libs'),
    KAFKA_CLUSTER_PORTS: `${b1},${b2},${b3}`,
    KAFKA_CLUSTER_CONTROLLER_PORTS: `${c1},${c2},${c3}`,
    SERVICES_BROKERS: '',
  }
  const services = (...args: string[]) => run('bash', [script, ...args], { env, timeout: 240_000 })
  const pidFiles = [1, 2, 3].map((n) => join(dir, `kafka-cluster/node${n}/kafka.pid`))
  t.teardown(async () => {
    await services('down', '--brokers', '3').catch(() => undefined)
    // Last resort: no node outlives the test.
    for (const f of pidFiles) {
      if (existsSync(f)) process.kill(Number(readFileSync(f, 'utf8')), 'SIGKILL')
    }
    rmSync(dir, { recursive: true, force: true })
  })

  let started = Date.now()
  const up = await services('up', '--brokers', '3')
  t.match(up.stderr, /all servers ready/, 'up: ready')
  t.comment(`up --brokers 3 took ${Date.now() - started} ms`)
  t.ok(
    pidFiles.every((f) => existsSync(f)),
    'each node started by the script',
  )

  const { stdout } = await services('env', '--brokers', '3')
  const exported = Object.fromEntries(
    [...stdout.matchAll(/^export ([A-Z_]+)=(.*)$/gm)].map((m) => [m[1] ?? '', m[2] ?? '']),
  )
  t.equal(exported['KAFKA_BROKERS'], `127.0.0.1:${b1},127.0.0.1:${b2},127.0.0.1:${b3}`, 'env: every broker')
  const config = loadConfig(testEnv(exported))
  t.equal(config.kafka.replicationFactor, 3, 'env: topics at replication factor 3')
  t.equal(config.kafka.minInsyncReplicas, 2, 'env: min.insync.replicas 2')
  const single = await run('bash', [script, 'env'], { env: { ...env, SERVICES_DIR: '' } })
  t.match(single.stdout, /^export KAFKA_BROKERS=127\.0\.0\.1:9092$/m, 'the default profile is still one node')
  t.notMatch(single.stdout, /TOPIC_REPLICATION_FACTOR/, 'the default profile leaves replication alone')

  const admin = new Kafka({ brokers: [...config.kafka.brokers], logLevel: logLevel.NOTHING }).admin()
  await admin.connect()
  try {
    const cluster = await admin.describeCluster()
    t.same(cluster.brokers.map((b) => b.port).sort(), [b1, b2, b3].sort(), 'the metadata lists three brokers')
    const { resources } = await admin.describeConfigs({
      resources: [{ type: kafkajs.ConfigResourceTypes.BROKER, name: '1' }],
      includeSynonyms: false,
    })
    const setting = (name: string) => resources[0]?.configEntries.find((e) => e.configName === name)?.configValue
    t.equal(setting('default.replication.factor'), '3', 'new topics on every node')
    t.equal(setting('min.insync.replicas'), '2', 'a write needs two replicas')
  } finally {
    await admin.disconnect()
  }

  const status = await services('status', '--brokers', '3')
  for (const [n, port] of [b1, b2, b3].entries()) {
    t.match(status.stdout, new RegExp(`Kafka node ${n + 1} :${port} +up`), `status: node ${n + 1} up`)
  }

  started = Date.now()
  const down = await services('down', '--brokers', '3')
  t.match(down.stderr, /Kafka cluster stopped \(3 nodes\)/, 'down: every node stopped')
  t.notMatch(down.stderr, /did not stop/, 'down: each node stopped cleanly')
  t.comment(`down --brokers 3 took ${Date.now() - started} ms`)
  t.notOk(
    pidFiles.some((f) => existsSync(f)),
    'no pid file left',
  )
  const after = await services('status', '--brokers', '3').catch((e: { code?: number; stdout?: string }) => e)
  t.equal((after as { code?: number }).code, 1, 'status fails once the nodes are down')
  t.match(
    String((after as { stdout?: string }).stdout),
    new RegExp(`Kafka node 1 :${b1} +DOWN`),
    'status names each node that is down',
  )
})
