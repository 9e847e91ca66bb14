import { randomUUID } from 'node:crypto'
import type { Config } from '../../config/config.js'
import { topicCatalog, type TopicSpec } from '../../schemas/catalog.js'
import type { TopicCodec } from '../../sinks/schema-registry.js'
import { bool, dateFlag, intFlag, parseFlags, str, requireStr } from '../args.js'
import { withKafka, withProducer, resolveTopic } from '../context.js'
import { CliFailure, UsageError } from '../errors.js'
import { discard, line, reporter, type Command, type Output } from '../io.js'
import { progress } from '../progress.js'
import { offsetsAt, scanRanges, topicOffsets, type PartitionRange } from '../scan.js'

const CMD = 'replay'

export const replayHelp = `usage: gwb replay --topic <name> (--from-offset N [--to-offset M] [--partition P] | --since <date> [--until <date>])
                  [--tenant <id>] [--conversation <id>] [--resend] [--dry-run] [--progress-every N] [--json]

Re-produces the records of a topic range onto the same topic, so the processors handle them again
with all their guarantees. By default unchanged: messages already sent are skipped by the dedup
claim. --resend marks the selected records resend=true, so exactly those are sent again.
  --topic          genesys-outbound, whatsapp-inbound, whatsapp-status, whatsapp-webhooks-raw
  --from-offset    first offset (per partition, or of --partition); --to-offset is the last, inclusive
  --since/--until  record timestamps, a date (2025-01-31, UTC) or ISO time with zone; --until exclusive
  --tenant         only records of this tenant; --conversation only this conversation (genesys-outbound)
  --dry-run        count what would be replayed, produce nothing
  --progress-every progress on stderr every N records (done/total, rate, ETA); default 1000
  --json           one JSON summary on stdout; the other lines go to stderr
`

/** Record types whose envelope has a `resend` flag the consumer honours. */
const RESENDABLE = new Set(['GenesysOutboundEnvelope', 'WhatsAppInboundEnvelope'])

interface Filter {
  tenant: string | undefined
  conversation: string | undefined
}

export interface ReplayPlan {
  spec: TopicSpec
  select:
    | { kind: 'offsets'; from: number; to: number | undefined; partition: number | undefined }
    | { kind: 'time'; since: Date; until: Date | undefined }
  filter: Filter
  resend: boolean
  dryRun: boolean
  progressEvery: number
  /** Print one JSON summary on stdout (the other lines go to stderr). */
  json?: boolean
}

export function parseReplay(config: Config, args: readonly string[]): ReplayPlan {
  const p = parseFlags(CMD, args, {
    topic: { type: 'string' },
    'from-offset': { type: 'string' },
    'to-offset': { type: 'string' },
    partition: { type: 'string' },
    since: { type: 'string' },
    until: { type: 'string' },
    tenant: { type: 'string' },
    conversation: { type: 'string' },
    resend: { type: 'boolean' },
    'dry-run': { type: 'boolean' },
    'progress-every': { type: 'string' },
    json: { type: 'boolean' },
  })
  const spec = resolveTopic(CMD, config, topicCatalog(config.kafka.topics), requireStr(CMD, p, 'topic'))
  if (spec.record === 'DeadLetter') {
    throw new UsageError(`${CMD}: ${spec.topic} is a dead-letter topic; use "gwb dead-letters redrive"`)
  }
  const from = intFlag(CMD, p, 'from-offset')
  const to = intFlag(CMD, p, 'to-offset')
  const partition = intFlag(CMD, p, 'partition')
  const since = dateFlag(CMD, p, 'since', 'start')
  const until = dateFlag(CMD, p, 'until', 'end')
  let select: ReplayPlan['select']
  if (from !== undefined) {
    if (since !== undefined || until !== undefined) {
      throw new UsageError(`${CMD}: give either --from-offset or --since, not both`)
    }
    if (to !== undefined && to < from) throw new UsageError(`${CMD}: --to-offset ${to} is before --from-offset ${from}`)
    select = { kind: 'offsets', from, to, partition }
  } else if (since !== undefined) {
    if (to !== undefined || partition !== undefined) {
      throw new UsageError(`${CMD}: --to-offset and --partition go with --from-offset, not --since`)
    }
    if (until !== undefined && until <= since) throw new UsageError(`${CMD}: --until must be after --since`)
    select = { kind: 'time', since, until }
  } else {
    throw new UsageError(`${CMD}: a range is required: --from-offset N or --since <date>`)
  }
  const conversation = str(p, 'conversation')
  if (conversation !== undefined && spec.record !== 'GenesysOutboundEnvelope') {
    throw new UsageError(`${CMD}: --conversation applies to genesys-outbound only`)
  }
  const resend = bool(p, 'resend')
  if (resend && !RESENDABLE.has(spec.record)) {
    throw new UsageError(`${CMD}: --resend applies to genesys-outbound and whatsapp-inbound only`)
  }
  return {
    spec,
    select,
    filter: { tenant: str(p, 'tenant'), conversation },
    resend,
    dryRun: bool(p, 'dry-run'),
    progressEvery: intFlag(CMD, p, 'progress-every', 1) ?? 1000,
    json: bool(p, 'json'),
  }
}

export interface ReplaySummary {
  scanned: number
  matched: number
  produced: number
  incomplete: number[]
}

export const replay: Command = async (config, args, out, err) => {
  const plan = parseReplay(config, args)
  await runReplay(config, plan, out, err)
}

export async function runReplay(
  config: Config,
  plan: ReplayPlan,
  out: Output,
  err: Output = discard,
): Promise<ReplaySummary> {
  const report = reporter(plan.json === true, out, err)
  return withKafka(config, async ({ kafka, codec }) => {
    const topic = plan.spec.topic
    const offsets = await topicOffsets(kafka, topic).catch((err: unknown) => {
      throw new CliFailure(`cannot read offsets of ${topic}: ${err instanceof Error ? err.message : String(err)}`)
    })
    const ranges = await planRanges(kafka, topic, offsets, plan)
    const total = ranges.reduce((n, r) => n + Math.max(0, r.end - r.start), 0)
    line(
      report.say,
      `replaying ${topic}: ${total} records in range on ${ranges.filter((r) => r.end > r.start).length} partition(s)${plan.dryRun ? ' (dry run)' : ''}${plan.resend ? ' with resend' : ''}`,
    )
    const s: ReplaySummary = { scanned: 0, matched: 0, produced: 0, incomplete: [] }
    const seen = new Set<string>()
    const tick = progress(err, `replay ${topic}`, total)
    const run = async (produce: ((key: string | null, value: Buffer) => Promise<void>) | undefined): Promise<void> => {
      let inFlight: Promise<void>[] = []
      const result = await scanRanges(kafka, {
        topic,
        groupPrefix: config.kafka.groupPrefix,
        ranges,
        onRecord: async (r) => {
          s.scanned++
          if (r.value !== null) {
            const value = await select(codec, plan, r.value, seen)
            if (value !== undefined) {
              s.matched++
              if (produce !== undefined) {
                inFlight.push(produce(r.key === null ? null : r.key.toString(), value).then(() => void s.produced++))
                if (inFlight.length >= 500) {
                  await Promise.all(inFlight)
                  inFlight = []
                }
              }
            }
          }
          if (s.scanned % plan.progressEvery === 0) {
            tick(s.scanned, `matched ${s.matched}, produced ${s.produced}`)
          }
        },
      })
      await Promise.all(inFlight)
      s.incomplete = result.incomplete
    }
    if (plan.dryRun) await run(undefined)
    else await withProducer(kafka, (producer) => run((key, value) => producer.send({ topic, key, value })))
    report.summary({ topic, dryRun: plan.dryRun, resend: plan.resend, ...s }, () =>
      line(out, `scanned ${s.scanned}, matched ${s.matched}, produced ${s.produced}`),
    )
    if (s.incomplete.length > 0) {
      throw new CliFailure(`partitions ${s.incomplete.join(', ')} were not read to the end (no records arrived)`)
    }
    return s
  })
}

async function planRanges(
  kafka: Parameters<typeof offsetsAt>[0],
  topic: string,
  offsets: { partition: number; low: number; high: number }[],
  plan: ReplayPlan,
): Promise<PartitionRange[]> {
  const sel = plan.select
  if (sel.kind === 'offsets') {
    if (sel.partition !== undefined && !offsets.some((o) => o.partition === sel.partition)) {
      throw new UsageError(`${CMD}: ${topic} has no partition ${sel.partition} (0..${offsets.length - 1})`)
    }
    return offsets
      .filter((o) => sel.partition === undefined || o.partition === sel.partition)
      .map((o) => ({
        partition: o.partition,
        start: Math.max(sel.from, o.low),
        end: Math.min(sel.to === undefined ? o.high : sel.to + 1, o.high),
      }))
  }
  const starts = await offsetsAt(kafka, topic, sel.since)
  const ends = sel.until === undefined ? undefined : await offsetsAt(kafka, topic, sel.until)
  return offsets.map((o) => ({
    partition: o.partition,
    start: Math.max(starts.get(o.partition) ?? o.high, o.low),
    end: Math.min(ends?.get(o.partition) ?? o.high, o.high),
  }))
}

interface Envelope {
  tenantId: string
  messageId?: string
  wamid?: string
  conversationId?: string | null
  resend?: boolean
  attempt?: number
}

/** The bytes to re-produce when the record matches the filter, else undefined. */
async function select(
  codec: TopicCodec,
  plan: ReplayPlan,
  value: Buffer,
  seen: Set<string>,
): Promise<Buffer | undefined> {
  const topic = plan.spec.topic
  const needsDecode = plan.filter.tenant !== undefined || plan.filter.conversation !== undefined || plan.resend
  if (!needsDecode) return value
  let env: Envelope
  try {
    env = (await codec.decode(topic, value)) as Envelope
  } catch {
    // An undecodable record cannot match a filter; unchanged replay of it would dead-letter again.
    return undefined
  }
  if (plan.filter.tenant !== undefined && env.tenantId !== plan.filter.tenant) return undefined
  if (plan.filter.conversation !== undefined && env.conversationId !== plan.filter.conversation) return undefined
  if (!plan.resend) return value
  // A range holding a message twice (the original and an earlier replay's copy) resends it once.
  const id = env.messageId ?? env.wamid
  if (id !== undefined) {
    if (seen.has(id)) return undefined
    seen.add(id)
  }
  // Outbound resends carry a fresh token: a redelivered copy of the replayed record finds it used.
  const token = plan.spec.record === 'GenesysOutboundEnvelope' ? { resendToken: randomUUID() } : {}
  return codec.encode(topic, { ...env, resend: true, attempt: 0, ...token } as never)
}
