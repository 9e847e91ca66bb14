import type { Config } from '../../config/config.js'
import { parseGenesysWebhook } from '../../processors/parse-genesys-webhook.js'
import { outboundEnvelope } from '../../processors/outbound-envelope.js'
import { readArchive } from '../../sinks/archive-reader.js'
import type { GenesysOutboundEnvelope } from '../../schemas/records.generated.js'
import { getTenant } from '../../sinks/db/tenants.js'
import { createObjectStore } from '../../sinks/object-store.js'
import { bool, dateFlag, intFlag, parseFlags, requireStr, str } from '../args.js'
import { withKafka, withProducer, withSql } from '../context.js'
import { CliFailure, UsageError } from '../errors.js'
import { discard, line, reporter, type Command, type Output } from '../io.js'
import { progress } from '../progress.js'
import { BUCKETS } from '../../processors/object-keys.js'

const CMD = 'archive replay'

export const archiveHelp = `usage: gwb archive replay --tenant <id> --since <date> [--until <date>] [--direction outbound]
                          [--conversation <id>] [--resend] [--dry-run] [--progress-every N] [--json]

Reads the raw Genesys webhooks archived in S3 (bucket webhooks-outbound, objects
{tenant}/{yyyy-MM-dd}/{ms}-p{partition}-o{offset}-n{count}.ndjson holding many webhooks each, and
the older one-per-object {ms}-{conversation}-{discriminator}.json) received in the range and produces
them onto genesys-outbound exactly as ingest would (each message id once per run). Same dedup semantics as "gwb replay": messages
already sent are skipped unless --resend. --until is exclusive (a date means the end of that day).
`

export interface ArchiveSummary {
  listed: number
  matched: number
  produced: number
  skipped: number
}

export const archive: Command = async (config, args, out, err) => {
  const [sub, ...rest] = args
  if (sub !== 'replay') {
    throw new UsageError(
      sub === undefined ? 'archive: missing subcommand (replay)' : `archive: unknown subcommand "${sub}"; use replay`,
    )
  }
  const p = parseFlags(CMD, rest, {
    tenant: { type: 'string' },
    since: { type: 'string' },
    until: { type: 'string' },
    direction: { type: 'string' },
    conversation: { type: 'string' },
    resend: { type: 'boolean' },
    'dry-run': { type: 'boolean' },
    'progress-every': { type: 'string' },
    json: { type: 'boolean' },
  })
  const tenantId = requireStr(CMD, p, 'tenant')
  const since = dateFlag(CMD, p, 'since', 'start')
  if (since === undefined) throw new UsageError(`${CMD}: --since is required`)
  const until = dateFlag(CMD, p, 'until', 'end') ?? new Date()
  if (until <= since) throw new UsageError(`${CMD}: --until must be after --since`)
  const direction = str(p, 'direction') ?? 'outbound'
  if (direction !== 'outbound') {
    throw new UsageError(`${CMD}: --direction ${direction} is not supported; only outbound (Genesys webhooks)`)
  }
  const report = reporter(bool(p, 'json'), out, err)
  const summary = await replayArchive(config, report.say, {
    tenantId,
    since,
    until,
    conversation: str(p, 'conversation'),
    resend: bool(p, 'resend'),
    dryRun: bool(p, 'dry-run'),
    progressEvery: intFlag(CMD, p, 'progress-every', 1) ?? 500,
    err,
  })
  report.summary({ tenant: tenantId, dryRun: bool(p, 'dry-run'), ...summary }, () =>
    line(
      out,
      `listed ${summary.listed}, matched ${summary.matched}, produced ${summary.produced}, skipped ${summary.skipped}`,
    ),
  )
}

export async function replayArchive(
  config: Config,
  out: Output,
  o: {
    tenantId: string
    since: Date
    until: Date
    conversation: string | undefined
    resend: boolean
    dryRun: boolean
    progressEvery: number
    /** Progress lines (stderr in the CLI). */
    err?: Output | undefined
  },
): Promise<ArchiveSummary> {
  const tenant = await withSql(config, (sql) => getTenant(sql, o.tenantId))
  if (tenant === undefined) throw new CliFailure(`no tenant ${o.tenantId}`)
  if (tenant.status !== 'active') {
    throw new CliFailure(`tenant ${o.tenantId} is inactive; ingest would refuse its webhooks (enable it first)`)
  }
  const bucket = BUCKETS.webhooksOutbound
  const topic = config.kafka.topics.genesysOutbound
  const store = createObjectStore(config.s3)
  const s: ArchiveSummary = { listed: 0, matched: 0, produced: 0, skipped: 0 }
  try {
    const read = await readArchive(store, bucket, o.tenantId, o.since, o.until)
    const webhooks = read.webhooks
    s.listed = webhooks.length
    if (read.bad > 0) line(out, `  ${read.bad} archive line(s) that are not webhooks; skipped`)
    line(
      out,
      `archive ${bucket}: ${webhooks.length} webhook(s) of ${o.tenantId} in range, from ${read.listed} object(s)${o.dryRun ? ' (dry run)' : ''}`,
    )

    const tick = progress(o.err ?? discard, `archive replay ${o.tenantId}`, webhooks.length)
    await withKafka(config, async ({ kafka, codec }) => {
      const seen = new Set<string>()
      const feed = async (send: ((key: string, env: GenesysOutboundEnvelope) => Promise<void>) | undefined) => {
        for (const [i, w] of webhooks.entries()) {
          const parsed = parseGenesysWebhook(w.payload, Number.MAX_SAFE_INTEGER)
          if (!parsed.ok) {
            line(out, `  ${w.key}: does not parse (${parsed.reason}); skipped`)
            s.skipped++
            continue
          }
          const msg = parsed.value
          if (msg.channel.id !== tenant.genesysIntegrationId) {
            line(out, `  ${w.key}: integration ${msg.channel.id} is not ${o.tenantId}'s; skipped`)
            s.skipped++
            continue
          }
          if (o.conversation !== undefined && msg.conversationId !== o.conversation) continue
          // A replayed webhook is archived again under a new key: feed each message once per run.
          if (seen.has(msg.id)) continue
          seen.add(msg.id)
          s.matched++
          const { key, env } = outboundEnvelope(msg, {
            tenantId: tenant.id,
            receivedAtMs: w.receivedAtMs,
            payload: w.payload,
            resend: o.resend,
          })
          if (send !== undefined) {
            await send(key, env)
            s.produced++
          }
          if ((i + 1) % o.progressEvery === 0) {
            tick(i + 1, `matched ${s.matched}, produced ${s.produced}`)
          }
        }
      }
      if (o.dryRun) await feed(undefined)
      else {
        await withProducer(kafka, (producer) =>
          feed((key, env) => producer.send({ topic, key, value: codec.encode(topic, env) })),
        )
      }
    })
  } finally {
    store.close()
  }
  return s
}
