/**
 * Rewrites the generated section of BENCHMARKS.md from a saved run, without running it again:
 * `node dist/bench/render-md.js bench/results/full.json`.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { basename, join } from 'node:path'
import { projectRoot } from '../src/paths.js'
import { renderMarkdown, replaceGenerated, type BenchResult } from './report.js'

const file = process.argv[2]
if (file === undefined) {
  process.stderr.write('usage: node dist/bench/render-md.js bench/results/<name>.json\n')
  process.exit(2)
}
let result: BenchResult
try {
  result = JSON.parse(readFileSync(file, 'utf8')) as BenchResult
} catch (err) {
  process.stderr.write(`cannot read ${file}: ${err instanceof Error ? err.message : String(err)}\n`)
  process.exit(2)
}
const md = renderMarkdown(result, `bench/results/${basename(file, '.json')}.svg`)
writeFileSync(join(projectRoot, 'bench', 'results', `${basename(file, '.json')}.md`), `${md}\n`)
const path = join(projectRoot, 'BENCHMARKS.md')
writeFileSync(path, replaceGenerated(readFileSync(path, 'utf8'), md))
process.stdout.write(`BENCHMARKS.md rewritten from ${file}\n`)
