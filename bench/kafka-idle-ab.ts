import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { Kafka, logLevel } from 'kafkajs'
import pino from 'pino'
import { createKafka } from '../src/sinks/kafka/client.js'
import { childResult } from './child-result.js'

/**
 * A/B of kafkajs's request-queue loop (src/sinks/kafka/request-queue-idle.ts): a child process
 * holds the clients a bridge with every role holds (a producer, an admin, four consumer groups
 * running on one topic), sends `--rate` records/s through them, and reports its own CPU over
 * `--seconds`; kafkajs as released and guarded alternate, so the machine's other load falls on both.
 *   KAFKA_BROKERS=… node dist/bench/kafka-idle-ab.js [--rounds 3] [--seconds 10] [--rate 0]
 */
const { values: a } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '10' },
    rate: { type: 'string', default: '0' },
    child: { type: 'string' },
  },
})
const brokers = (process.env['KAFKA_BROKERS'] ?? '127.0.0.1:9092').split(',')
const variants = ['released', 'guarded'] as const
type Variant = (typeof variants)[number]

async function child(variant: Variant): Promise<void> {
  const kafka =
    variant === 'guarded'
      ? createKafka({
          brokers,
          clientId: 'gwb-bench-idle',
          security: { protocol: 'PLAINTEXT', tls: undefined, sasl: undefined },
          log: pino({ level: 'silent' }),
        })
      : new Kafka({ brokers, clientId: 'gwb-bench-idle', logLevel: logLevel.NOTHING })
  const topic = `gwb-bench-idle-${process.pid}`
  const admin = kafka.admin()
  await admin.connect()
  await admin.createTopics({ topics: [{ topic, numPartitions: 4 }], waitForLeaders: true })
  const producer = kafka.producer()
  await producer.connect()
  const consumers = await Promise.all(
    [1, 2, 3, 4].map(async (g) => {
      const c = kafka.consumer({ groupId: `${topic}-g${g}` })
      await c.connect()
      await c.subscribe({ topic, fromBeginning: true })
      let seen = 0
      await c.run({ eachMessage: () => Promise.resolve(void seen++) })
      return c
    }),
  )
  // Let the groups join before measuring: the joins are not what is compared.
  await new Promise((r) => setTimeout(r, 8000))
  const rate = Number(a.rate)
  const timer =
    rate > 0
      ? setInterval(
          () => void producer.send({ topic, messages: Array.from({ length: rate / 10 }, () => ({ value: 'x' })) }),
          100,
        )
      : undefined
  const before = process.cpuUsage()
  await new Promise((r) => setTimeout(r, Number(a.seconds) * 1000))
  const used = process.cpuUsage(before)
  if (timer !== undefined) clearInterval(timer)
  process.stdout.write(`${JSON.stringify({ variant, cpuMs: (used.user + used.system) / 1000 })}\n`)
  await Promise.all(consumers.map((c) => c.disconnect()))
  await producer.disconnect()
  await admin.deleteTopics({ topics: [topic] })
  await admin.disconnect()
  process.exit(0) // released kafkajs keeps its 1 ms timers alive after disconnect
}

async function runChild(variant: Variant): Promise<number> {
  const args = ['--child', variant, ...process.argv.slice(2)]
  return (await childResult<{ cpuMs: number }>(fileURLToPath(import.meta.url), args, `child ${variant}`)).cpuMs
}

async function main(): Promise<void> {
  const seconds = Number(a.seconds)
  const cpu: Record<Variant, number[]> = { released: [], guarded: [] }
  for (let r = 0; r < Number(a.rounds); r++) {
    for (const v of variants) cpu[v].push(await runChild(v))
  }
  const nodeV = process.version
  const load = execFileSync('cat', ['/proc/loadavg']).toString().trim()
  console.log(`kafkajs request-queue loop, ${a.rate} rec/s, ${seconds} s per round, ${nodeV}, loadavg ${load}`)
  console.log('| kafkajs | CPU per round (ms) | mean % of a core |')
  console.log('|---|---|---|')
  for (const v of variants) {
    const mean = cpu[v].reduce((s, x) => s + x, 0) / cpu[v].length
    console.log(
      `| ${v} | ${cpu[v].map((x) => x.toFixed(0)).join(', ')} | ${((mean / (seconds * 1000)) * 100).toFixed(1)} % |`,
    )
  }
}

const variant = a.child
if (variant === 'released' || variant === 'guarded') await child(variant)
else await main()
