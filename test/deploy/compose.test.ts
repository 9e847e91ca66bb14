import t from 'tap'
import { readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { parse } from 'yaml'
import { projectRoot } from '../../src/paths.js'

/**
 * docker-compose.yml can start: every image pinned to a version, each bridge service given every
 * variable the README's configuration table requires (and every server address, whose defaults point
 * at 127.0.0.1, wrong inside a container), scalable roles without fixed host ports, a sandbox profile.
 * And the production image carries no fakes, sandbox entry point, bench or tests.
 */
type Service = {
  image?: string
  profiles?: string[]
  build?: { target?: string }
  environment?: Record<string, string | null>
  ports?: string[]
}
const compose = parse(readFileSync(join(projectRoot, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
  services: Record<string, Service>
}

/** Splits a table cell on commas outside backticks: "`a,b`, required" → ["`a,b`", "required"]. */
function cells(text: string): string[] {
  const out: string[] = []
  let cur = ''
  let quoted = false
  for (const ch of text) {
    if (ch === '`') quoted = !quoted
    if (ch === ',' && !quoted) {
      out.push(cur.trim())
      cur = ''
    } else cur += ch
  }
  return [...out, cur.trim()].filter((c) => c !== '')
}

/** Variables whose default in README's table is "required" or an address on 127.0.0.1. */
function readmeNeeds(): string[] {
  const readme = readFileSync(join(projectRoot, 'README.md'), 'utf8')
  const table = readme.slice(readme.indexOf('### Configuration'))
  const needs: string[] = []
  for (const row of table.split('\n').filter((l) => l.startsWith('| `'))) {
    const [, vars = '', defaults = ''] = row.split('|')
    const names = cells(vars).map((v) => v.replace(/`/g, ''))
    const values = cells(defaults)
    names.forEach((name, i) => {
      const d = values[i] ?? ''
      if (d === 'required' || d.includes('127.0.0.1')) needs.push(name)
    })
  }
  return needs
}

t.test('every image is pinned to a version', async (t) => {
  for (const [name, s] of Object.entries(compose.services)) {
    const image = s.image ?? ''
    if (image.startsWith('genesys-whatsapp-bridge:')) continue // built here from the Dockerfile
    // A major alone (postgres:15) moves; a release (15.13, RELEASE.<date>) or a digest does not.
    t.match(
      image,
      /(:[^:@]*\d+\.\d+[^:@]*|:RELEASE\.\d{4}-\d{2}-\d{2}T[\w-]+|@sha256:[0-9a-f]{64})$/,
      `${name}: ${image}`,
    )
    t.notMatch(image, /:latest$/, `${name} is not :latest`)
  }
})

t.test('each bridge service sets what the README says a bridge needs', async (t) => {
  const needs = readmeNeeds()
  t.ok(needs.includes('CREDENTIALS_KEY') && needs.includes('KAFKA_BROKERS'), `read from README: ${needs.join(' ')}`)
  const bridges = Object.entries(compose.services).filter(([, s]) => s.image?.startsWith('genesys-whatsapp-bridge'))
  t.ok(bridges.length >= 7, 'setup, five roles and the sandbox')
  for (const [name, s] of bridges) {
    for (const v of needs) {
      const value = s.environment?.[v]
      t.ok(typeof value === 'string' && value.replace(/\$\{[A-Z_]+:-(.+)\}/, '$1') !== '', `${name} sets ${v}`)
    }
  }
})

t.test('roles scale: no fixed host port on a scalable service; the sandbox is a profile', async (t) => {
  for (const role of ['ingest', 'outbound', 'inbound', 'status', 'archive']) {
    const s = compose.services[role]
    t.ok(s, `service ${role}`)
    for (const p of s?.ports ?? [])
      t.match(p, /^(127\.0\.0\.1::)?\d+$/, `${role}: port ${p} lets Docker pick the host port`)
  }
  const sandbox = compose.services['sandbox']
  t.same(sandbox?.profiles, ['sandbox'])
  t.equal(sandbox?.build?.target, 'sandbox', 'built with the fakes')
  t.equal(compose.services['setup']?.environment?.['START_SETUP'], 'none', 'the roles start with least privilege')
})

t.test('the production image carries no fakes, sandbox, bench or tests', async (t) => {
  const dockerfile = readFileSync(join(projectRoot, 'Dockerfile'), 'utf8')
  const stages = dockerfile.split(/^FROM /m)
  const production = stages.at(-1) ?? ''
  t.match(production, /AS production/, 'the last (default) stage is production')
  t.notMatch(dockerfile, /COPY (bench|test)\b/, 'bench/ and test/ are never copied')
  t.match(dockerfile, /rm -rf \/prod\/dist\/src\/fakes \/prod\/dist\/src\/sandbox\.js/, 'the fakes are removed')
  t.match(production, /COPY --from=build \/prod\/dist/, 'production copies the pruned build')
  // Nothing that production runs imports the fakes, the tests or the bench.
  const src = join(projectRoot, 'src')
  const files = readdirSync(src, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'))
  for (const f of files) {
    const rel = relative(src, join(src, f))
    if (rel.startsWith('fakes/') || rel === 'sandbox.ts') continue
    const text = readFileSync(join(src, f), 'utf8')
    t.notMatch(text, /from '[^']*\/(fakes|test|bench)\//, `src/${rel} imports no test-only code`)
  }
})
