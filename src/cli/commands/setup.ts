import { migrationsPath } from '../../paths.js'
import { ALL_BUCKETS } from '../../processors/object-keys.js'
import { migrate } from '../../sinks/db/migrate.js'
import { ensureTopics } from '../../sinks/kafka/topics.js'
import { createObjectStore } from '../../sinks/object-store.js'
import { bool, parseFlags } from '../args.js'
import { withKafka, withSql } from '../context.js'
import { line, type Command } from '../io.js'

export const setupHelp = `usage: gwb setup [--json]

Prepares everything running bridge processes need and, in a least-privilege deployment, may not
create themselves (a Kubernetes Job runs it before each rollout). Idempotent: a second run changes
nothing.
  1. applies the pending database migrations (refuses a database newer than this build);
  2. registers the Avro schemas under each topic's subject, BACKWARD compatible (refuses an
     incompatible change);
  3. creates the missing topics and their .dlq twins (TOPIC_PARTITIONS, TOPIC_REPLICATION_FACTOR,
     TOPIC_MIN_INSYNC_REPLICAS);
     existing topics are left as they are;
  4. creates the missing S3 buckets.
Bridge processes started with START_SETUP=none then only check 1 to 3 (read rights) and refuse to
start, naming this command, when something is missing.
`

export const setup: Command = async (config, args, out) => {
  const p = parseFlags('setup', args, { json: { type: 'boolean' } })
  const migrations = await withSql(config, (sql) => migrate(sql, migrationsPath))
  const k = config.kafka
  const { specs, codec, created } = await withKafka(
    config,
    async ({ kafka, codec, specs }) => ({
      specs,
      codec,
      created: await ensureTopics(kafka, specs, k.partitions, k.replicationFactor, k.minInsyncReplicas),
    }),
    { register: true },
  )
  const buckets = [...ALL_BUCKETS]
  const store = createObjectStore(config.s3)
  try {
    await store.ensureBuckets(buckets)
  } finally {
    store.close()
  }
  const summary = {
    migrations: { applied: migrations.applied, schemaVersion: migrations.current },
    schemas: specs.map((s) => ({ subject: `${s.topic}-value`, id: codec.schemaId(s.topic) })),
    topics: { created, existing: specs.filter((s) => !created.includes(s.topic)).map((s) => s.topic) },
    buckets,
  }
  if (bool(p, 'json')) {
    line(out, JSON.stringify(summary))
    return
  }
  for (const name of migrations.applied) line(out, `applied migration ${name}`)
  line(out, `database schema version ${migrations.current}`)
  line(out, `registered ${summary.schemas.length} schemas (${summary.schemas.map((s) => s.id).join(', ')})`)
  line(out, `topics: ${created.length} created, ${summary.topics.existing.length} already there`)
  line(out, `buckets: ${buckets.join(', ')}`)
}
