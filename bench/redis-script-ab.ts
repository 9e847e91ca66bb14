import { randomBytes } from 'node:crypto'
import { parseArgs } from 'node:util'
import type { Redis } from 'ioredis'
import { createRedis } from '../src/sinks/cache/redis.js'
import { redisScript } from '../src/sinks/cache/redis-script.js'
import { createSendRateLimiter } from '../src/sinks/cache/send-rate-limiter.js'
import { parseCommandstats } from './server-costs.js'

/**
 * A/B of how the shared send budget's script is called: EVAL (the whole script on every send, as
 * before), EVALSHA through ioredis's defineCommand, and EVALSHA called directly (what the limiter
 * does). The limiter's own script, captured from one call; rounds alternated so the machine's other
 * load falls on every variant; per call: client CPU, Redis time in the script, bytes written.
 *   REDIS_URL=… node dist/bench/redis-script-ab.js [--calls 30000] [--rounds 5] [--concurrency 64]
 */
const { values: a } = parseArgs({
  options: {
    calls: { type: 'string', default: '30000' },
    rounds: { type: 'string', default: '5' },
    concurrency: { type: 'string', default: '64' },
  },
})
const calls = Number(a.calls)
const variants = ['EVAL', 'EVALSHA (defineCommand)', 'EVALSHA (direct, kept)'] as const
type Variant = (typeof variants)[number]
type Call = (key: string) => Promise<unknown>

/** The limiter's script text: the EVAL it falls back to when EVALSHA answers NOSCRIPT. */
async function captureScript(): Promise<string> {
  let lua = ''
  const recorder = {
    evalsha: () => Promise.reject(new Error('NOSCRIPT (captured by the bench)')),
    eval: (script: string) => {
      lua = script
      return Promise.resolve(0)
    },
  } as unknown as Redis
  await createSendRateLimiter({ redis: recorder, ratePerSecond: 1, burst: 1 }).acquire('x')
  if (lua === '') throw new Error('the limiter sent no script')
  return lua
}

function caller(redis: Redis, variant: Variant, lua: string): Call {
  const args = [100_000, 100_000] as const
  // The budget key and its slow-down key, as the limiter passes them.
  if (variant === 'EVAL') return (key) => redis.eval(lua, 2, key, `${key}:slow`, ...args)
  if (variant === 'EVALSHA (direct, kept)') {
    const run = redisScript(redis, lua)
    return (key) => run(2, key, `${key}:slow`, ...args)
  }
  const name = `gwbAb${randomBytes(4).toString('hex')}`
  redis.defineCommand(name, { lua, numberOfKeys: 2 })
  const fn: unknown = Reflect.get(redis, name)
  if (typeof fn !== 'function') throw new TypeError('defineCommand defined nothing')
  return (key) => Promise.resolve(fn.call(redis, key, `${key}:slow`, ...args))
}

interface Round {
  variant: Variant
  callsPerSec: number
  clientCpuUs: number
  redisUs: number
  bytes: number
}

async function round(redis: Redis, variant: Variant, lua: string, written: { bytes: number }): Promise<Round> {
  const prefix = `gwb-bench-${randomBytes(6).toString('hex')}:`
  const call = caller(redis, variant, lua)
  const keys = Array.from({ length: 8 }, (_, i) => `${prefix}ratelimit:meta:pn${i}`)
  await call(keys[0] as string) // the first send per connection may carry the script: not measured
  const before = parseCommandstats(await redis.info('commandstats'))
  const bytes0 = written.bytes
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  let next = 0
  await Promise.all(
    Array.from({ length: Number(a.concurrency) }, async () => {
      while (next < calls) await call(keys[next++ % keys.length] as string)
    }),
  )
  const seconds = (performance.now() - t0) / 1000
  const cpu = process.cpuUsage(cpu0)
  const bytes = written.bytes - bytes0
  const after = parseCommandstats(await redis.info('commandstats'))
  const inScripts = (s: typeof before): number => (s.usecByCommand['eval'] ?? 0) + (s.usecByCommand['evalsha'] ?? 0)
  await redis.del(...keys)
  return {
    variant,
    callsPerSec: Math.round(calls / seconds),
    clientCpuUs: Math.round(((cpu.user + cpu.system) / calls) * 10) / 10,
    redisUs: Math.round(((inScripts(after) - inScripts(before)) / calls) * 100) / 100,
    bytes: Math.round(bytes / calls),
  }
}

const redis = createRedis(process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379/0')
if (redis.status !== 'ready') await new Promise((r) => redis.once('ready', r))
const lua = await captureScript()
const written = { bytes: 0 }
const socket = redis.stream
const write = socket.write.bind(socket) as (chunk: unknown, ...rest: unknown[]) => boolean
socket.write = ((chunk: unknown, ...rest: unknown[]) => {
  written.bytes += Buffer.byteLength(typeof chunk === 'string' ? chunk : (chunk as Buffer))
  return write(chunk, ...rest)
}) as typeof socket.write
const rounds: Round[] = []
for (let i = 0; i < Number(a.rounds); i++) {
  for (const v of variants) {
    const r = await round(redis, v, lua, written)
    rounds.push(r)
    process.stderr.write(`${JSON.stringify(r)}\n`)
  }
}
await redis.quit()
const median = (xs: number[]): number => xs.sort((x, y) => x - y)[Math.floor(xs.length / 2)] ?? 0
process.stdout.write(
  `Medians of ${a.rounds} alternated rounds × ${calls} calls, ${a.concurrency} in flight, script of ${Buffer.byteLength(lua)} B:\n\n` +
    '| variant | calls/s | client CPU µs/call | Redis µs/call (in the script) | bytes written/call |\n|---|---:|---:|---:|---:|\n',
)
for (const v of variants) {
  const rs = rounds.filter((r) => r.variant === v)
  const m = (f: (r: Round) => number): number => median(rs.map(f))
  process.stdout.write(
    `| ${v} | ${m((r) => r.callsPerSec)} | ${m((r) => r.clientCpuUs)} | ${m((r) => r.redisUs)} | ${m((r) => r.bytes)} |\n`,
  )
}
