import { ALL_BUCKETS, safeSegment } from '../../processors/object-keys.js'
import { createObjectStore } from '../../sinks/object-store.js'
import { bool, intFlag, parseFlags } from '../args.js'
import { UsageError } from '../errors.js'
import { line, reporter, type Command } from '../io.js'

const CMD = 'retention sweep'

export const retentionHelp = `usage: gwb retention sweep [--days N] [--tenant ID] [--json]

Applies the retention (RETENTION_DAYS, or --days) to the archive and media buckets: a lifecycle
rule where the S3 server supports it, otherwise deletes the objects older than the retention now.
--tenant limits the sweep to one tenant's objects (every key starts with the tenant id).
`

export const retention: Command = async (config, args, out, err) => {
  const [sub, ...rest] = args
  if (sub !== 'sweep') {
    throw new UsageError(
      sub === undefined ? 'retention: missing subcommand (sweep)' : `retention: unknown subcommand "${sub}"; use sweep`,
    )
  }
  const p = parseFlags(CMD, rest, { days: { type: 'string' }, tenant: { type: 'string' }, json: { type: 'boolean' } })
  const report = reporter(bool(p, 'json'), out, err)
  const buckets: { bucket: string; mode: 'lifecycle' | 'sweep'; deleted?: number }[] = []
  const tenant = typeof p.values['tenant'] === 'string' ? p.values['tenant'] : undefined
  const days = intFlag(CMD, p, 'days', 1) ?? config.s3.retentionDays
  const store = createObjectStore(config.s3)
  try {
    const all = [...ALL_BUCKETS]
    await store.ensureBuckets(all)
    const cutoff = new Date(Date.now() - days * 86_400_000)
    for (const bucket of all) {
      const mode = tenant === undefined ? await store.applyRetention(bucket, days) : 'sweep-needed'
      if (mode === 'lifecycle') {
        buckets.push({ bucket, mode: 'lifecycle' })
        line(report.say, `${bucket}: lifecycle rule set, objects expire after ${days} days`)
      } else {
        const removed = await store.sweepExpired(bucket, cutoff, tenant === undefined ? '' : `${safeSegment(tenant)}/`)
        const scope = tenant === undefined ? 'no lifecycle support' : `tenant ${tenant}`
        buckets.push({ bucket, mode: 'sweep', deleted: removed })
        line(report.say, `${bucket}: ${scope}; deleted ${removed} objects older than ${cutoff.toISOString()}`)
      }
    }
  } finally {
    store.close()
  }
  report.summary({ days, tenant: tenant ?? null, buckets }, () => undefined)
}
