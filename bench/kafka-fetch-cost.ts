import { loadavg } from 'node:os'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import type { Kafka } from 'kafkajs'
import pino from 'pino'
import { sleep } from '../src/retry.js'
import { createKafka } from '../src/sinks/kafka/client.js'
import { alternatedRounds, median } from './ab-rounds.js'
import { childResult, startChild } from './child-result.js'

/**
 * What a consumer group's fetch batching costs: a child process holds one consumer group configured
 * as src/consumer/kafkajs-group.ts configures it (manual commits, eachBatch) on a 12-partition topic,
 * another child produces `--rate` records/s of 700 B into it, and the consumer reports the fetch
 * requests it made and its own CPU over `--seconds`. The fetch settings alternate round by round
 * (`--variant minBytes/maxWaitMs`, repeatable), so the machine's other load falls on all of them.
 *   KAFKA_BROKERS=… node dist/bench/kafka-fetch-cost.js [--rounds 3] [--seconds 5] [--rate 500]
 *     [--variant 1/50 --variant 32768/20 --variant 262144/250]
 */
const { values: a } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '5' },
    rate: { type: 'string', default: '500' },
    variant: { type: 'string', multiple: true, default: ['1/50', '32768/20', '262144/250'] },
    child: { type: 'string' },
    topic: { type: 'string' },
  },
})
const brokers = (process.env['KAFKA_BROKERS'] ?? '127.0.0.1:9092').split(',')
const kafkaOf = (clientId: string): Kafka =>
  createKafka({
    brokers,
    clientId,
    security: { protocol: 'PLAINTEXT', tls: undefined, sasl: undefined },
    log: pino({ level: 'silent' }),
  })

interface Sample {
  fetches: number
  cpuMs: number
}

async function consume(variant: string, topic: string): Promise<void> {
  const [minBytes, maxWaitTimeInMs] = variant.split('/').map(Number)
  const consumer = kafkaOf('gwb-bench-fetch').consumer({
    groupId: `${topic}-${variant}`,
    sessionTimeout: 10_000,
    heartbeatInterval: 3000,
    ...(minBytes === undefined ? {} : { minBytes }),
    ...(maxWaitTimeInMs === undefined ? {} : { maxWaitTimeInMs }),
    maxBytesPerPartition: 256 * 1024,
  })
  let fetches = 0
  consumer.on(consumer.events.REQUEST, (e) => {
    if (e.payload.apiName === 'Fetch') fetches++
  })
  await consumer.connect()
  await consumer.subscribe({ topic, fromBeginning: false })
  await consumer.run({
    autoCommit: false,
    partitionsConsumedConcurrently: 64,
    eachBatch: ({ batch, resolveOffset }) => {
      const last = batch.messages.at(-1)
      if (last !== undefined) resolveOffset(last.offset)
      return Promise.resolve()
    },
  })
  // The join and the first fetches are not what is compared.
  await sleep(4000)
  const [f0, c0] = [fetches, process.cpuUsage()]
  await sleep(Number(a.seconds) * 1000)
  const c = process.cpuUsage(c0)
  const sample: Sample = { fetches: fetches - f0, cpuMs: (c.user + c.system) / 1000 }
  process.stdout.write(`${JSON.stringify(sample)}\n`)
  await consumer.disconnect()
}

async function produce(topic: string): Promise<void> {
  const producer = kafkaOf('gwb-bench-fetch-producer').producer({ idempotent: true, maxInFlightRequests: 1 })
  await producer.connect()
  const value = Buffer.alloc(700, 'x')
  const perTick = Math.max(1, Math.round(Number(a.rate) / 100))
  let key = 0
  setInterval(() => {
    const messages = Array.from({ length: perTick }, () => ({ key: String(key++ % 2000), value }))
    void producer.send({ topic, acks: -1, messages })
  }, 10)
}

async function parent(): Promise<void> {
  const kafka = kafkaOf('gwb-bench-fetch-admin')
  const admin = kafka.admin()
  await admin.connect()
  const topic = `gwb-bench-fetch-${process.pid}`
  await admin.createTopics({ topics: [{ topic, numPartitions: 12 }], waitForLeaders: true })
  const self = fileURLToPath(import.meta.url)
  const producer = Number(a.rate) > 0 ? startChild(self, ['--child', 'produce', '--topic', topic]) : undefined
  const results = new Map<string, Sample[]>()
  const loads: number[] = []
  for (const { variant: v } of alternatedRounds(a.variant, Number(a.rounds))) {
    loads.push(loadavg()[0] ?? NaN)
    const sample = await childResult<Sample>(self, ['--child', v, '--topic', topic], `consumer ${v}`)
    results.set(v, [...(results.get(v) ?? []), sample])
  }
  producer?.kill()
  await admin.deleteGroups(a.variant.map((v) => `${topic}-${v}`)).catch(() => undefined)
  await admin.deleteTopics({ topics: [topic] })
  await admin.disconnect()
  const s = Number(a.seconds)
  const load = `${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)}`
  console.log(`${a.rate} rec/s, ${a.rounds} rounds × ${s} s, medians (load average ${load})`)
  console.log('| minBytes / maxWaitMs | fetches/s | consumer CPU, % of a core | CPU per fetch, ms |')
  console.log('| --- | ---: | ---: | ---: |')
  for (const [v, samples] of results) {
    const fetches = median(samples.map((x) => x.fetches)) / s
    const cpu = median(samples.map((x) => x.cpuMs)) / s
    console.log(`| ${v} | ${fetches.toFixed(0)} | ${(cpu / 10).toFixed(1)} % | ${(cpu / fetches).toFixed(2)} |`)
  }
}

if (a.child === 'produce') await produce(a.topic ?? '')
else if (a.child !== undefined) await consume(a.child, a.topic ?? '')
else await parent()
