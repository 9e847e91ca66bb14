import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import pino from 'pino'
import type { KafkaSecurity } from '../src/config/kafka-security.js'
import { createKafka } from '../src/sinks/kafka/client.js'
import { createKafkajsProducer } from '../src/sinks/kafka/kafkajs-producer.js'
import { roundSummary, summarize, type LatencySummary } from './stats.js'

export interface KafkajsCeiling {
  records: number
  recordBytes: number
  partitions: number
  produceSeconds: number
  produceRate: number
  /** First send to last record consumed. */
  endToEndSeconds: number
  endToEndRate: number
  /** Produce call to consumption, per record. */
  latencyMs: LatencySummary
}

/**
 * Raw Kafka produce → consume with kafkajs, the bridge's way: the project's batching producer
 * (concurrent sends gathered into one sendBatch, idempotent, acks=-1) and a consumer group reading
 * with eachBatch. `window` sends are outstanding at any time, like concurrent webhook requests.
 */
export async function kafkajsCeiling(opts: {
  brokers: string[]
  security: KafkaSecurity
  topic: string
  records: number
  recordBytes: number
  partitions: number
  window?: number
}): Promise<KafkajsCeiling> {
  const log = pino({ level: 'silent' })
  const kafka = createKafka({ brokers: opts.brokers, clientId: 'gwb-bench-ceiling', security: opts.security, log })
  const admin = kafka.admin()
  await admin.connect()
  await admin.createTopics({ topics: [{ topic: opts.topic, numPartitions: opts.partitions }], waitForLeaders: true })
  await admin.disconnect()

  const sentAt = new Float64Array(opts.records)
  const lat: number[] = []
  let consumed = 0
  let lastConsumedAt = 0
  let allConsumed!: () => void
  const done = new Promise<void>((resolve) => (allConsumed = resolve))
  const consumer = kafka.consumer({ groupId: `${opts.topic}-g`, maxBytesPerPartition: 4 * 1024 * 1024 })
  await consumer.connect()
  await consumer.subscribe({ topic: opts.topic, fromBeginning: true })
  await consumer.run({
    eachBatchAutoResolve: true,
    eachBatch: async ({ batch }) => {
      const now = performance.now()
      for (const m of batch.messages) {
        const i = m.key === null ? -1 : Number(m.key.toString())
        if (i >= 0 && i < opts.records) lat.push(now - (sentAt[i] as number))
      }
      consumed += batch.messages.length
      lastConsumedAt = now
      if (consumed >= opts.records) allConsumed()
    },
  })
  // Wait for the group to own the partitions before timing anything.
  await new Promise((r) => setTimeout(r, 3000))

  const producer = await createKafkajsProducer(kafka, { lingerMs: 2 })
  const value = Buffer.alloc(opts.recordBytes, 'x')
  const window = opts.window ?? 256
  const t0 = performance.now()
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < opts.records) {
      const i = next++
      sentAt[i] = performance.now()
      await producer.send({ topic: opts.topic, key: String(i), value })
    }
  }
  await Promise.all(Array.from({ length: window }, worker))
  const t1 = performance.now()
  await Promise.race([done, new Promise((r) => setTimeout(r, 60_000))])
  await producer.close()
  await consumer.disconnect()
  const produceSeconds = (t1 - t0) / 1000
  const endToEndSeconds = (lastConsumedAt - t0) / 1000
  return {
    records: opts.records,
    recordBytes: opts.recordBytes,
    partitions: opts.partitions,
    produceSeconds: Math.round(produceSeconds * 100) / 100,
    produceRate: Math.round(opts.records / produceSeconds),
    endToEndSeconds: Math.round(endToEndSeconds * 100) / 100,
    endToEndRate: Math.round(Math.min(consumed, opts.records) / endToEndSeconds),
    latencyMs: roundSummary(summarize(lat)),
  }
}

export interface ProducerPerformanceResult {
  available: boolean
  reason?: string
  command?: string
  line?: string
  recordsPerSec?: number
  mbPerSec?: number
  avgLatencyMs?: number
  maxLatencyMs?: number
  p50Ms?: number
  p95Ms?: number
  p99Ms?: number
}

/** Kafka's own org.apache.kafka.tools.ProducerPerformance, if `scripts/services.sh perf-tools` provides it. */
export async function producerPerformance(opts: {
  root: string
  brokers: string[]
  security: KafkaSecurity
  topic: string
  partitions: number
  records: number
  recordBytes: number
}): Promise<ProducerPerformanceResult> {
  // The Java tool gets no TLS or SASL settings here: against a secured cluster only kafkajs's ceiling is measured.
  if (opts.security.protocol !== 'PLAINTEXT')
    return { available: false, reason: `KAFKA_SECURITY_PROTOCOL=${opts.security.protocol}` }
  const got = spawnSync('bash', [join(opts.root, 'scripts/services.sh'), 'perf-tools'], {
    encoding: 'utf8',
    timeout: 600_000,
  })
  const libs = join(opts.root, '.services/kafka-tools/libs')
  if (got.status !== 0 || !existsSync(join(libs, 'VERSION'))) {
    return { available: false, reason: `perf-tools unavailable: ${(got.stderr ?? '').trim().split('\n').pop() ?? ''}` }
  }
  // The broker does not auto-create topics.
  const log = pino({ level: 'silent' })
  const admin = createKafka({ brokers: opts.brokers, clientId: 'gwb-bench-pp', security: opts.security, log }).admin()
  await admin.connect()
  await admin.createTopics({ topics: [{ topic: opts.topic, numPartitions: opts.partitions }], waitForLeaders: true })
  await admin.disconnect()
  const args = [
    '-Xmx512m',
    '-cp',
    `${libs}/*`,
    'org.apache.kafka.tools.ProducerPerformance',
    '--topic',
    opts.topic,
    '--num-records',
    String(opts.records),
    '--record-size',
    String(opts.recordBytes),
    '--throughput',
    '-1',
    '--producer-props',
    'bootstrap.servers=127.0.0.1:9092',
    'acks=all',
    'linger.ms=2',
  ]
  const run = spawnSync('java', args, { encoding: 'utf8', timeout: 300_000 })
  const lines = (run.stdout ?? '').trim().split('\n')
  const line = lines.reverse().find((l) => l.includes('records sent'))
  const command = `java -cp '.services/kafka-tools/libs/*' ${args.slice(3).join(' ')}`
  if (run.status !== 0 || line === undefined) {
    return { available: false, reason: `ProducerPerformance failed: ${(run.stderr ?? '').slice(-300)}`, command }
  }
  const num = (re: RegExp): number | undefined => {
    const m = re.exec(line)
    return m === null ? undefined : Number(m[1])
  }
  return {
    available: true,
    command,
    line: line.trim(),
    recordsPerSec: num(/([\d.]+) records\/sec/),
    mbPerSec: num(/\(([\d.]+) MB\/sec\)/),
    avgLatencyMs: num(/([\d.]+) ms avg latency/),
    maxLatencyMs: num(/([\d.]+) ms max latency/),
    p50Ms: num(/(\d+) ms 50th/),
    p95Ms: num(/(\d+) ms 95th/),
    p99Ms: num(/(\d+) ms 99th/),
  }
}

export function kafkaVersion(root: string): string {
  try {
    return readFileSync(join(root, '.services/kafka/libs/VERSION'), 'utf8').trim()
  } catch {
    return 'unknown'
  }
}
