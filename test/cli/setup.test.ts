import t from 'tap'
import { collector } from '../../src/cli/io.js'
import { runCli } from '../../src/cli/run.js'
import { loadConfig } from '../../src/config/config.js'
import { topicCatalog } from '../../src/schemas/catalog.js'
import { spawnBridge } from '../helpers/bridge-process.js'
import { createTestDb } from '../helpers/db.js'
import { testEnv } from '../helpers/stack.js'

/**
 * The least-privilege rollout: processes started with START_SETUP=none create nothing, so against an
 * empty database (no migrations, no schemas, no topics) they refuse to start and say what to run;
 * once `gwb setup` has run (the Job before a rollout) they start.
 */
t.test(
  'a bridge without start-time setup refuses an empty install, naming gwb setup; after gwb setup it starts',
  async (t) => {
    const db = await createTestDb({ migrate: false })
    t.teardown(() => db.drop())
    const env = testEnv({ DATABASE_URL: db.url, START_SETUP: 'none', HTTP_PORT: '0', ROLES: 'ingest,outbound' })

    const refused = await spawnBridge(env).then(
      async (b) => {
        await b.kill()
        return 'started'
      },
      (err: unknown) => String(err),
    )
    t.match(refused, /exited \(1\) before it started/, 'the start fails')
    t.match(refused, /GWB_SETUP_REQUIRED/, 'with the stable code')
    t.match(refused, /run `gwb setup` first/, 'naming the command to run')

    const run = async (): Promise<{ code: number; out: string; err: string }> => {
      const out = collector()
      const err = collector()
      const code = await runCli(['setup', '--json'], env, out, err)
      return { code, out: out.text(), err: err.text() }
    }
    const first = await run()
    t.equal(first.code, 0, first.err)
    const summary = JSON.parse(first.out) as { migrations: { applied: string[] }; topics: { created: string[] } }
    t.ok(summary.migrations.applied.length > 0, 'migrations applied')
    const catalog = topicCatalog(loadConfig(env).kafka.topics).map((s) => s.topic)
    t.same([...summary.topics.created].sort(), [...catalog].sort(), 'every topic and dead-letter twin created')
    const second = await run()
    t.equal(second.code, 0, second.err)
    const again = JSON.parse(second.out) as { migrations: { applied: string[] }; topics: { created: string[] } }
    t.same([again.migrations.applied, again.topics.created], [[], []], 'a second setup changes nothing')

    const bridge = await spawnBridge(env)
    t.teardown(() => bridge.kill())
    t.match(bridge.output(), '"msg":"bridge started"')
    t.equal(await bridge.kill('SIGTERM'), 0, 'and stops cleanly')
  },
)
