// Reads a TAP stream (tap --reporter=tap), passes it through, and ends with "N passed, N failed".
// A test is each t.test() block of a file (indent 4); a file that fails without a failing block
// (a crash or timeout) counts as one failed test, and so does each failed check (--extra-failed).
import { createInterface } from 'node:readline'

const extraIdx = process.argv.indexOf('--extra-failed')
const extraFailed = extraIdx === -1 ? 0 : Number(process.argv[extraIdx + 1] ?? 0)
let passed = 0
let failed = 0
let fileFailedBlocks = 0

const rl = createInterface({ input: process.stdin })
for await (const line of rl) {
  process.stdout.write(`${line}\n`)
  const block = /^ {4}(not )?ok \d+ /.exec(line)
  if (block) {
    if (block[1]) {
      failed++
      fileFailedBlocks++
    } else if (!/# SKIP|# TODO/i.test(line)) passed++
    continue
  }
  const file = /^(not )?ok \d+ /.exec(line)
  if (file) {
    if (file[1] && fileFailedBlocks === 0) failed++
    fileFailedBlocks = 0
  }
}
failed += extraFailed
console.log(`${passed} passed, ${failed} failed`)
process.exit(failed > 0 || passed === 0 ? 1 : 0)
