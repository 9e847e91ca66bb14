import { randomUUID } from 'node:crypto'
import type { Consumer, Kafka } from 'kafkajs'
import { deadLetterTopic, type Config } from '../../config/config.js'
import { topicCatalog, type RecordName, type TopicSpec } from '../../schemas/catalog.js'
import type { TopicCodec } from '../../sinks/schema-registry.js'
import type { DeadLetter, GenesysOutboundEnvelope } from '../../schemas/records.generated.js'
import { bool, intFlag, parseFlags, requireStr } from '../args.js'
import { resolveTopic, withKafka, withProducer } from '../context.js'
import { CliFailure, UsageError } from '../errors.js'
import { line, reporter, table, type Command } from '../io.js'
import { carriedTraceHeaders, inTraceOf } from '../../sinks/kafka/trace-headers.js'
import { scanRanges, topicOffsets, type PartitionRange } from '../scan.js'

export const deadLettersHelp = `usage: gwb dead-letters list --topic <source topic> [--limit N] [--json]
       gwb dead-letters redrive --topic <source topic> (--offset N [--partition P] [--force] | --all) [--dry-run] [--json]

list     reads <topic>.dlq from the beginning: dead-letter partition:offset, time, code, message,
         tenant, source partition/offset, and whether it was re-driven already.
redrive  re-produces the original key and value onto the source topic, marked as an explicit
         resend (the flow sends it once more). Re-driven offsets are remembered in the
         consumer group <KAFKA_GROUP_PREFIX>dlq-redrive, so running --all twice re-drives nothing twice.
`

interface Redriven {
  /** Per DLQ partition: every offset below is handled (re-driven or passed by --all). */
  committed: Map<number, number>
  /** Offsets at or above `committed` that were re-driven one at a time. */
  done: Map<number, Set<number>>
}

const groupOf = (config: Config): string => `${config.kafka.groupPrefix}dlq-redrive`

function sourceSpec(command: string, config: Config, name: string): TopicSpec {
  const spec = resolveTopic(command, config, topicCatalog(config.kafka.topics), name)
  if (!spec.deadLetter) {
    throw new UsageError(
      `${command}: ${spec.topic} has no dead-letter topic; give the source topic (e.g. genesys-outbound)`,
    )
  }
  return spec
}

async function readRedriven(kafka: Kafka, groupId: string, dlq: string): Promise<Redriven> {
  const admin = kafka.admin()
  await admin.connect()
  try {
    const res = await admin.fetchOffsets({ groupId, topics: [dlq] })
    const state: Redriven = { committed: new Map(), done: new Map() }
    for (const p of res[0]?.partitions ?? []) {
      const offset = Number(p.offset)
      if (offset >= 0) state.committed.set(p.partition, offset)
      const meta = parseMeta(p.metadata)
      if (meta.length > 0) state.done.set(p.partition, new Set(meta))
    }
    return state
  } finally {
    await admin.disconnect()
  }
}

function parseMeta(metadata: string | null): number[] {
  if (metadata === null || metadata === '') return []
  try {
    const parsed = JSON.parse(metadata) as { redriven?: unknown }
    return Array.isArray(parsed.redriven) ? parsed.redriven.filter((n): n is number => Number.isSafeInteger(n)) : []
  } catch {
    return []
  }
}

const isRedriven = (s: Redriven, partition: number, offset: number): boolean =>
  offset < (s.committed.get(partition) ?? 0) || (s.done.get(partition)?.has(offset) ?? false)

const list: Command = async (config, args, out) => {
  const CMD = 'dead-letters list'
  const p = parseFlags(CMD, args, { topic: { type: 'string' }, limit: { type: 'string' }, json: { type: 'boolean' } })
  const spec = sourceSpec(CMD, config, requireStr(CMD, p, 'topic'))
  const limit = intFlag(CMD, p, 'limit', 1)
  const dlq = deadLetterTopic(spec.topic)
  await withKafka(config, async ({ kafka, codec }) => {
    const offsets = await topicOffsets(kafka, dlq)
    const state = await readRedriven(kafka, groupOf(config), dlq)
    const items: { partition: number; offset: number; d: DeadLetter | undefined }[] = []
    await scanRanges(kafka, {
      topic: dlq,
      groupPrefix: config.kafka.groupPrefix,
      ranges: offsets.map((o) => ({ partition: o.partition, start: o.low, end: o.high })),
      onRecord: async (r) => {
        const d = r.value === null ? undefined : await codec.decode<'DeadLetter'>(dlq, r.value).catch(() => undefined)
        items.push({ partition: r.partition, offset: r.offset, d })
      },
    })
    items.sort((a, b) => a.partition - b.partition || a.offset - b.offset)
    const shown = limit === undefined ? items : items.slice(0, limit)
    const view = shown.map(({ partition, offset, d }) => ({
      dlqPartition: partition,
      dlqOffset: offset,
      time: d === undefined ? null : new Date(d.deadLetteredAtMs).toISOString(),
      code: d?.code ?? 'UNREADABLE',
      message: d?.message ?? 'dead-letter record does not decode',
      tenantId: d?.tenantId ?? null,
      sourcePartition: d?.partition ?? null,
      sourceOffset: d?.offset ?? null,
      attempts: d?.attempts ?? null,
      redriven: isRedriven(state, partition, offset),
    }))
    if (bool(p, 'json')) {
      line(out, JSON.stringify(view, null, 2))
      return
    }
    if (view.length === 0) {
      line(out, `no dead letters on ${dlq}`)
      return
    }
    table(
      out,
      ['dlq', 'time', 'code', 'tenant', 'source', 'redriven', 'message'],
      view.map((v) => [
        `${v.dlqPartition}:${v.dlqOffset}`,
        v.time ?? '-',
        v.code,
        v.tenantId ?? '-',
        v.sourcePartition === null ? '-' : `${v.sourcePartition}:${v.sourceOffset}`,
        v.redriven ? 'yes' : 'no',
        v.message,
      ]),
    )
    line(out, `${items.length} dead letter(s) on ${dlq}${shown.length < items.length ? `, ${shown.length} shown` : ''}`)
  })
}

const redrive: Command = async (config, args, out, err) => {
  const CMD = 'dead-letters redrive'
  const p = parseFlags(CMD, args, {
    json: { type: 'boolean' },
    topic: { type: 'string' },
    offset: { type: 'string' },
    partition: { type: 'string' },
    all: { type: 'boolean' },
    force: { type: 'boolean' },
    'dry-run': { type: 'boolean' },
  })
  const spec = sourceSpec(CMD, config, requireStr(CMD, p, 'topic'))
  const offset = intFlag(CMD, p, 'offset')
  const partitionFlag = intFlag(CMD, p, 'partition')
  const all = bool(p, 'all')
  if (all === (offset !== undefined)) throw new UsageError(`${CMD}: give exactly one of --offset N or --all`)
  if (all && (partitionFlag !== undefined || bool(p, 'force'))) {
    throw new UsageError(`${CMD}: --partition and --force go with --offset, not --all`)
  }
  const dryRun = bool(p, 'dry-run')
  const dlq = deadLetterTopic(spec.topic)
  const groupId = groupOf(config)
  const report = reporter(bool(p, 'json'), out, err)
  const say = report.say

  await withKafka(config, async ({ kafka, codec }) => {
    const offsets = await topicOffsets(kafka, dlq)
    const state = await readRedriven(kafka, groupId, dlq)
    let ranges: PartitionRange[]
    if (offset !== undefined) {
      if (partitionFlag === undefined && offsets.length > 1) {
        throw new UsageError(`${CMD}: --partition is required, ${dlq} has ${offsets.length} partitions (see list)`)
      }
      const partition = partitionFlag ?? 0
      const o = offsets.find((x) => x.partition === partition)
      if (o === undefined) throw new UsageError(`${CMD}: ${dlq} has no partition ${partition}`)
      if (offset < o.low || offset >= o.high) throw new CliFailure(`no dead letter at ${partition}:${offset} of ${dlq}`)
      if (isRedriven(state, partition, offset) && !bool(p, 'force')) {
        throw new CliFailure(`dead letter ${partition}:${offset} was re-driven already; add --force to send it again`)
      }
      ranges = [{ partition, start: offset, end: offset + 1 }]
    } else {
      ranges = offsets.map((o) => ({
        partition: o.partition,
        start: Math.max(o.low, state.committed.get(o.partition) ?? o.low),
        end: o.high,
      }))
    }
    const counts = { scanned: 0, redriven: 0, skipped: 0 }
    const redriveAll = async (
      send: ((d: DeadLetter, headers: Record<string, string>) => Promise<void>) | undefined,
    ): Promise<void> => {
      await scanRanges(kafka, {
        topic: dlq,
        groupPrefix: config.kafka.groupPrefix,
        groupId: dryRun ? undefined : groupId,
        ranges,
        onRecord: async (r) => {
          counts.scanned++
          if (all && isRedriven(state, r.partition, r.offset)) {
            counts.skipped++
            return
          }
          const d = r.value === null ? undefined : await codec.decode<'DeadLetter'>(dlq, r.value).catch(() => undefined)
          if (d === undefined || d.value === null) {
            line(say, `  ${r.partition}:${r.offset}: no original value to re-drive; skipped`)
            counts.skipped++
            return
          }
          if (d.sourceTopic !== spec.topic) {
            line(say, `  ${r.partition}:${r.offset}: came from ${d.sourceTopic}, not ${spec.topic}; skipped`)
            counts.skipped++
            return
          }
          if (send !== undefined) await send(d, r.headers)
          counts.redriven++
          line(
            say,
            `  ${dryRun ? 'would re-drive' : 're-drove'} ${r.partition}:${r.offset} (${d.code}, tenant ${d.tenantId ?? '-'}, source ${d.partition}:${d.offset})`,
          )
        },
        beforeStop: dryRun ? undefined : (consumer) => remember(consumer, dlq, ranges, state, all),
      })
    }
    if (dryRun) await redriveAll(undefined)
    else {
      await withProducer(kafka, (producer) =>
        // The re-driven record continues the trace of the message (the dead letter's traceparent).
        redriveAll(async (d, headers) => {
          const value = await asResend(codec, spec.topic, spec.record, d.value as Buffer)
          await inTraceOf(headers, () =>
            producer.send({
              topic: spec.topic,
              key: d.key === null ? null : d.key.toString(),
              value,
              headers: { ...carriedTraceHeaders(headers), 'gwb-redrive-of': `${dlq}` },
            }),
          )
        }),
      )
    }
    report.summary({ topic: spec.topic, dryRun, ...counts }, () =>
      line(
        out,
        `scanned ${counts.scanned}, re-driven ${counts.redriven}${dryRun ? ' (dry run)' : ''}, skipped ${counts.skipped}`,
      ),
    )
  })
}

/** Commits the handled prefix per partition, with offsets re-driven one by one above it as metadata. */
async function remember(
  consumer: Consumer,
  dlq: string,
  ranges: readonly PartitionRange[],
  state: Redriven,
  all: boolean,
): Promise<void> {
  const commits = ranges
    .filter((r) => r.start < r.end)
    .map((r) => {
      const done = new Set(state.done.get(r.partition) ?? [])
      let next = state.committed.get(r.partition) ?? 0
      if (all) next = Math.max(next, r.end)
      else done.add(r.start)
      while (done.has(next)) next++
      const rest = [...done].filter((o) => o >= next).sort((a, b) => a - b)
      return {
        topic: dlq,
        partition: r.partition,
        offset: String(next),
        metadata: rest.length === 0 ? null : JSON.stringify({ redriven: rest }),
      }
    })
  if (commits.length > 0) await consumer.commitOffsets(commits)
}

export const deadLetters: Command = async (config, args, out) => {
  const [sub, ...rest] = args
  if (sub === 'list') return list(config, rest, out)
  if (sub === 'redrive') return redrive(config, rest, out)
  throw new UsageError(
    sub === undefined
      ? 'dead-letters: missing subcommand (list, redrive)'
      : `dead-letters: unknown subcommand "${sub}"; one of list, redrive`,
  )
}

/**
 * A re-drive is an operator's explicit decision to send again: a dead-lettered message may have
 * reached the platform (no answer came), so its dedup claim is not taken over by a plain redelivery.
 * Envelopes that carry a resend flag get it set (the flow then releases the claim and sends once
 * more); other records go back unchanged.
 */
async function asResend(codec: TopicCodec, topic: string, record: RecordName, value: Buffer): Promise<Buffer> {
  if (record !== 'GenesysOutboundEnvelope' && record !== 'WhatsAppInboundEnvelope') return value
  const env = await codec.decode<typeof record>(topic, value).catch(() => undefined)
  if (env === undefined) return value
  // Outbound: a fresh token, so a redelivered copy of this re-drive does not send again.
  if (record === 'GenesysOutboundEnvelope') {
    const out = env as GenesysOutboundEnvelope
    return codec.encode(topic, { ...out, resend: true, attempt: 0, resendToken: randomUUID() })
  }
  return codec.encode(topic, { ...env, resend: true, attempt: 0 })
}
