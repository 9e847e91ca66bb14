import t from 'tap'
import { ceilingRatio, replaceGenerated, type BenchResult, type StepResult } from '../../bench/report.js'

const step = (acceptedRate: number, holds: boolean): StepResult =>
  ({ targetRate: acceptedRate, acceptedRate, holds }) as unknown as StepResult

const result = (steps: StepResult[], kafkaRate: number | undefined, searched?: number): BenchResult =>
  ({
    steps,
    search: searched === undefined ? undefined : { heldRate: searched, seconds: 60, criterion: '' },
    ceilings: {
      ingest: [],
      kafkajs: kafkaRate === undefined ? undefined : { endToEndRate: kafkaRate },
      producerPerformance: undefined,
    },
  }) as unknown as BenchResult

t.test('the ratio uses the highest rate that held, against the kafkajs produce → consume rate', async (t) => {
  t.same(ceilingRatio(result([step(500, true), step(1000, true), step(2000, false)], 8000)), {
    heldRate: 1000,
    kafkaRate: 8000,
    ratio: 0.125,
  })
  t.equal(ceilingRatio(result([step(500, true)], 8000, 1500))?.heldRate, 1500, 'a search result counts')
  t.equal(ceilingRatio(result([step(500, false)], 8000)), undefined, 'nothing held: no ratio')
  t.equal(ceilingRatio(result([step(500, true)], undefined)), undefined, 'no ceiling measured: no ratio')
})

t.test('only the generated section of the document is replaced', async (t) => {
  const doc = 'intro\n<!-- bench:generated:begin -->\nold\n<!-- bench:generated:end -->\noutro\n'
  t.equal(
    replaceGenerated(doc, 'new'),
    'intro\n<!-- bench:generated:begin -->\nnew\n<!-- bench:generated:end -->\noutro\n',
  )
  t.equal(replaceGenerated('no markers', 'new'), 'no markers', 'a document without markers is left alone')
})
