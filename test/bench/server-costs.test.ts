import t from 'tap'
import { cpuStageTable, profileStages } from '../../bench/cpu-stages.js'
import { stageOf, type Profile } from '../../bench/profile-summary.js'
import {
  costTable,
  parseCommandstats,
  parseProcStatTicks,
  stepCosts,
  type CostSample,
} from '../../bench/server-costs.js'

t.test('/proc/<pid>/stat: own and reaped children CPU, even with a command name holding ") "', async (t) => {
  const fields = ['S', '41', '41', '41', '0', '-1', '4194304', '10', '0', '0', '0', '150', '50', '7', '3', '20']
  t.same(parseProcStatTicks(`1234 (post (gres) x) ${fields.join(' ')}`), { ticks: 210, ppid: 41 })
  t.equal(parseProcStatTicks('garbage'), undefined)
})

t.test('INFO commandstats: calls per command and the time spent in commands', async (t) => {
  const info =
    '# Commandstats\r\ncmdstat_evalsha:calls=10,usec=50,usec_per_call=5.00,rejected_calls=0,failed_calls=0\r\n' +
    'cmdstat_get:calls=3,usec=3,usec_per_call=1.00,rejected_calls=0,failed_calls=0\r\n'
  t.same(parseCommandstats(info), { calls: { evalsha: 10, get: 3 }, usec: 53, usecByCommand: { evalsha: 50, get: 3 } })
})

const sample = (over: Partial<CostSample>): CostSample => ({ bridgeCpuS: 0, serverCpuS: {}, ...over })

t.test('a step costs the growth of each counter divided by the messages delivered', async (t) => {
  const before = sample({
    bridgeCpuS: 10,
    serverCpuS: { Kafka: 100, Redis: 5 },
    pgBackendCpuS: { '11': 1, '12': 2 },
    pg: { xact: 1000, tup_inserted: 50 },
    redis: { calls: { evalsha: 100 }, usec: 1000 },
    kafka: { records: 10, bytes: 10_000 },
    s3: { objects: 1, bytes: 500 },
  })
  const after = sample({
    bridgeCpuS: 10.5,
    serverCpuS: { Kafka: 100.2, Redis: 5.01 },
    // backend 12 closed, backend 13 opened during the step: 11 grew 0.1 s, 13 used 0.05 s from nothing
    pgBackendCpuS: { '11': 1.1, '13': 0.05 },
    pg: { xact: 3000, tup_inserted: 1050 },
    redis: { calls: { evalsha: 1100, get: 1 }, usec: 3000 },
    kafka: { records: 1010, bytes: 210_000 },
    s3: { objects: 5, bytes: 100_500 },
  })
  const c = stepCosts(before, after, 1000)
  const v = (prefix: string): number | undefined => c.rows.find((r) => r.what.startsWith(prefix))?.perMessage
  t.equal(v('bridge CPU'), 500, '0.5 s over 1000 messages: 500 µs each')
  t.equal(Math.round(v('PostgreSQL CPU, µs (backends') ?? 0), 150)
  t.equal(v('PostgreSQL transactions'), 2)
  t.equal(v('PostgreSQL rows inserted'), 1)
  t.equal(v('Redis commands'), 1.001)
  t.equal(v('Redis `EVALSHA`'), 1)
  t.equal(v('Redis `GET`'), undefined, 'a command under 1 in 100 messages is not listed alone')
  t.equal(v('Kafka records'), 1)
  t.equal(v('Kafka bytes'), 200)
  t.equal(v('S3 PUTs'), 0.004)
  t.equal(Math.round(v('Kafka CPU') ?? 0), 200)
  t.equal(c.rows.find((r) => r.what.startsWith('Kafka CPU'))?.scope, 'machine', 'a whole server is marked shared')
  t.same(stepCosts(before, after, 0).rows, [], 'nothing delivered: no per-message cost')
})

t.test('the cost table has a column per step and marks shared counters', async (t) => {
  const before = sample({ bridgeCpuS: 1, serverCpuS: { Redis: 1 } })
  const lines = costTable([
    { rate: 500, costs: stepCosts(before, sample({ bridgeCpuS: 2, serverCpuS: { Redis: 1.5 } }), 2000) },
    { rate: 1000, costs: stepCosts(before, sample({ bridgeCpuS: 2.2, serverCpuS: {} }), 4000) },
    { rate: 2000, costs: undefined },
  ])
  t.same(lines, [
    '| per delivered message | 500/s | 1000/s |',
    '|---|---:|---:|',
    '| bridge CPU, µs (all bridge processes) | 500 | 300 |',
    '| Redis CPU, µs (whole server) † | 250 | – |',
    '| messages delivered in the step | 2000 | 4000 |',
  ])
  t.same(costTable([{ rate: 1, costs: undefined }]), [], 'no step measured: no table')
})

t.test('profile areas fall into the stages of the message path', async (t) => {
  t.equal(stageOf('npm:kafkajs'), 'Kafka client (kafkajs, consumer, producer)')
  t.equal(stageOf('src/sinks/db/claims.js'), 'PostgreSQL client (postgres.js, claim, tracking)')
  t.equal(stageOf('src/flows/archive.js'), 'archive (batches, S3 client)')
  t.equal(stageOf('src/flows/outbound.js'), 'flows and processors (own code)')
  t.equal(stageOf('npm:prom-client'), 'metrics (prom-client)')
  t.equal(stageOf('npm:something-else'), 'npm:something-else', 'an unknown area keeps its name')
})

t.test("per-stage CPU: the profile's busy shares times the /proc CPU per message", async (t) => {
  const node = (id: number, url: string, functionName = 'f') => ({
    id,
    callFrame: { functionName, url, lineNumber: 0 },
  })
  const profile: Profile = {
    nodes: [
      node(1, '', '(idle)'),
      node(2, 'file:///x/node_modules/kafkajs/src/a.js'),
      node(3, 'file:///x/dist/src/metrics.js'),
    ],
    // 5 ms idle (left out), 3 ms kafkajs, 1 ms metrics
    samples: [1, 2, 2, 2, 3, 1, 1, 1, 1],
    timeDeltas: [1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000],
  }
  const costs = (us: number, delivered: number) => ({
    delivered,
    rows: [{ what: 'bridge CPU, µs (all bridge processes)', perMessage: us, scope: 'bench' as const }],
  })
  const p = profileStages([profile], [{ costs: costs(400, 1000) }, { costs: costs(100, 1000) }, {}])
  t.equal(p?.usPerMessage, 250, 'weighted by the messages of each step')
  t.same(
    p?.stages.map((s) => [s.stage, s.share, s.usPerMessage]),
    [
      ['Kafka client (kafkajs, consumer, producer)', 0.75, 187.5],
      ['metrics (prom-client)', 0.25, 62.5],
    ],
  )
  t.match(cpuStageTable(p).join('\n'), /\| Kafka client \(kafkajs, consumer, producer\) \| 75 % \| 187\.5 \|/)
  t.equal(profileStages([], [{ costs: costs(1, 1) }]), undefined, 'not profiled: no table')
})
