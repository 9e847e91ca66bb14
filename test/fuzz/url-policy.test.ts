/**
 * Property tests of the outbound fetch policy's pure half (fast-check, fixed seed): the URL check
 * and the address check, against an independent oracle (node:net BlockList) and against the URL
 * corpus attackers use (decimal, octal and hex IPv4, IPv6 forms, userinfo `@` tricks, trailing
 * dots, percent-encoding). At least 10 000 cases per property; FUZZ_RUNS multiplies them.
 * The redirect and connect-time halves run over sockets in test/sinks/media-fetch.test.ts.
 */
import { readFileSync } from 'node:fs'
import { BlockList } from 'node:net'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import fc from 'fast-check'
import t from 'tap'
import { checkFetchUrl, hostKey, type HostRules } from '../../src/processors/fetch-policy.js'
import { addressRefusal, parseV6 } from '../../src/processors/ip-address.js'
import { dotted, v4Forms } from '../helpers/url-forms.js'

const SEED = 20261129
const RUNS = 10_000 * Number(process.env['FUZZ_RUNS'] ?? '1')
const params = { seed: SEED, numRuns: RUNS }

// ------------------------------------------------------------------ the oracle: RFC 6890 and friends, by BlockList
const oracle = new BlockList()
for (const [net, bits] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.31.196.0', 24],
  ['192.52.193.0', 24],
  ['192.88.99.0', 24],
  ['192.168.0.0', 16],
  ['192.175.48.0', 24],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const)
  oracle.addSubnet(net, bits, 'ipv4')
const v4Refused = (n: number) => oracle.check(dotted(n), 'ipv4')

const u32 = fc.integer({ min: 0, max: 0xffffffff })
/** Addresses in the refused ranges, weighted so each range is hit often. */
const refusedV4 = fc.oneof(
  fc.integer({ min: 0x7f000000, max: 0x7fffffff }),
  fc.integer({ min: 0x0a000000, max: 0x0affffff }),
  fc.integer({ min: 0xac100000, max: 0xac1fffff }),
  fc.integer({ min: 0xc0a80000, max: 0xc0a8ffff }),
  fc.integer({ min: 0xa9fe0000, max: 0xa9feffff }),
  fc.integer({ min: 0x64400000, max: 0x647fffff }),
  fc.integer({ min: 0x00000000, max: 0x00ffffff }),
  fc.integer({ min: 0xc6120000, max: 0xc613ffff }),
  fc.integer({ min: 0xe0000000, max: 0xffffffff }),
)

const noRules: HostRules = { https: new Set(), insecure: new Set() }

t.test('the address check agrees with the oracle on every IPv4 address', async (t) => {
  fc.assert(
    fc.property(u32, (n) => (addressRefusal(dotted(n)) !== undefined) === (v4Refused(n) || n === 0xffffffff)),
    params,
  )
  t.pass(`${RUNS} random addresses`)
})

t.test('every form of a refused IPv4 address is refused, even when an operator allows it by name', async (t) => {
  fc.assert(
    fc.property(refusedV4, fc.integer({ min: 1, max: 65535 }), fc.boolean(), (n, port, https) => {
      for (const form of v4Forms(n)) {
        const url = `${https ? 'https' : 'http'}://${form}:${port}/x`
        // Not allowed: refused by the URL check.
        if (checkFetchUrl(url, noRules).ok) return false
        // Allowed by its canonical name (an operator listing an IP): the URL passes only as the
        // canonical address, which the connect-time check then refuses.
        const allowed: HostRules = { https: new Set([`${dotted(n)}:${port}`]), insecure: new Set() }
        const c = checkFetchUrl(url, allowed)
        if (c.ok && (c.url.hostname !== dotted(n) || addressRefusal(c.url.hostname) === undefined)) return false
      }
      return true
    }),
    params,
  )
  t.pass('decimal, octal, hex, short and percent-encoded forms')
})

/** IPv6 texts of one address: compressed, full, upper case, with a dotted tail where it fits. */
function v6Forms(bytes: Uint8Array): string[] {
  const groups = Array.from({ length: 8 }, (_, i) => ((bytes[2 * i] ?? 0) << 8) | (bytes[2 * i + 1] ?? 0))
  const full = groups.map((g) => g.toString(16)).join(':')
  const padded = groups.map((g) => g.toString(16).padStart(4, '0')).join(':')
  const v4tail = `${groups
    .slice(0, 6)
    .map((g) => g.toString(16))
    .join(':')}:${bytes.subarray(12).join('.')}`
  const compressed = new URL(`http://[${full}]/`).hostname.slice(1, -1)
  return [full, padded, padded.toUpperCase(), v4tail, compressed]
}

const embed = (n: number, kind: number): Uint8Array => {
  const b = new Uint8Array(16)
  const put = (at: number) => {
    b[at] = n >>> 24
    b[at + 1] = (n >>> 16) & 255
    b[at + 2] = (n >>> 8) & 255
    b[at + 3] = n & 255
  }
  if (kind === 0) {
    b[10] = 0xff // ::ffff:a.b.c.d
    b[11] = 0xff
    put(12)
  } else if (kind === 1)
    put(12) // ::a.b.c.d
  else if (kind === 2) {
    b.set([0x00, 0x64, 0xff, 0x9b], 0) // 64:ff9b::a.b.c.d
    put(12)
  } else {
    b.set([0x20, 0x02], 0) // 2002:aabb:ccdd::
    put(2)
    b[15] = 1
  }
  return b
}

t.test('IPv6 embeddings are judged by the IPv4 address they lead to, in every spelling', async (t) => {
  fc.assert(
    fc.property(u32, fc.integer({ min: 0, max: 3 }), (n, kind) => {
      const refused = v4Refused(n) || n === 0xffffffff || (kind === 1 && n <= 1)
      return v6Forms(embed(n, kind)).every((f) => (addressRefusal(f) !== undefined) === refused)
    }),
    params,
  )
  t.pass('mapped, compatible, NAT64 and 6to4')
})

t.test('IPv6 outside public unicast is refused; parsing agrees with the URL parser', async (t) => {
  const bytes = fc.uint8Array({ minLength: 16, maxLength: 16 })
  const local = fc.oneof(
    bytes.map((b) => Uint8Array.from([0xfc | ((b[0] ?? 0) & 1), ...b.subarray(1)])),
    bytes.map((b) => Uint8Array.from([0xfe, 0x80 | ((b[1] ?? 0) & 0x3f), ...b.subarray(2)])),
    bytes.map((b) => Uint8Array.from([0xff, ...b.subarray(1)])),
    bytes.map((b) => Uint8Array.from([...new Array<number>(15).fill(0), (b[15] ?? 0) & 1])),
  )
  fc.assert(
    fc.property(local, (b) => v6Forms(b).every((f) => addressRefusal(f) !== undefined)),
    params,
  )
  fc.assert(
    fc.property(bytes, (b) =>
      v6Forms(b).every((f) => {
        const parsed = parseV6(f)
        return parsed !== undefined && Buffer.from(parsed).equals(Buffer.from(b))
      }),
    ),
    params,
  )
  t.pass('unique-local, link-local, multicast, loopback and unspecified; every spelling parses to its bytes')
})

// ------------------------------------------------------------------ URL grammar: what attackers write
const allowedHosts = ['api.mypurecloud.ie', 'api-downloads.mypurecloud.ie', 'files.example.com']
const evilHosts = [
  '127.0.0.1',
  'localhost',
  '169.254.169.254',
  '[::1]',
  '0x7f.1',
  '2130706433',
  'evil.test',
  '10.0.0.1',
]
const piece = fc.oneof(
  fc.constantFrom(...allowedHosts, ...evilHosts),
  fc.constantFrom('@', ':', '#', '?', '/', '\\', '%40', '%2e', '%00', '.', '..', '\t', '\n', ' ', '[', ']', '%5c'),
  fc.constantFrom(':443', ':80', ':8443', ':0', ':65536', 'user:pw@', 'user@'),
  fc.string({ maxLength: 4 }),
)
const urlText = fc
  .tuple(
    fc.constantFrom('https://', 'http://', 'HTTPS://', 'https:/', 'https:\\\\', '//', 'ftp://', 'javascript:', ''),
    fc.array(piece, { maxLength: 8 }),
  )
  .map(([scheme, parts]) => scheme + parts.join(''))

t.test('a URL passes only as https to an allowed host:port, without userinfo, whatever its spelling', async (t) => {
  const rules: HostRules = {
    https: new Set(allowedHosts.map((h) => `${h}:443`)),
    insecure: new Set(['127.0.0.1:4010']),
  }
  let passed = 0
  fc.assert(
    fc.property(urlText, (text) => {
      const c = checkFetchUrl(text, rules)
      if (!c.ok) return true
      passed++
      // What is requested is the normalised URL: its host is what the rules allowed.
      const again = new URL(c.url.href)
      const key = hostKey(again)
      return (
        again.username === '' &&
        again.password === '' &&
        key === c.hostKey &&
        (c.insecure ? rules.insecure.has(key) : again.protocol === 'https:' && rules.https.has(key))
      )
    }),
    params,
  )
  t.ok(passed > 0, `${passed} generated URLs were allowed (the property is not vacuous)`)
})

t.test('userinfo, backslash and fragment tricks never reach the host they hide', async (t) => {
  const rules: HostRules = { https: new Set(['api.mypurecloud.ie:443']), insecure: new Set() }
  fc.assert(
    fc.property(fc.constantFrom(...evilHosts), fc.constantFrom('@', '\\@', '#@', '?@', '%40', ':x@'), (evil, sep) => {
      for (const text of [
        `https://api.mypurecloud.ie${sep}${evil}/`,
        `https://${evil}${sep}api.mypurecloud.ie/`,
        `https://api.mypurecloud.ie.${sep}${evil}/`,
      ]) {
        const c = checkFetchUrl(text, rules)
        if (c.ok && c.url.hostname !== 'api.mypurecloud.ie') return false
      }
      return true
    }),
    { seed: SEED, numRuns: Math.min(RUNS, 1000) },
  )
  t.pass()
})

t.test('the saved URL corpus gets its recorded verdicts', async (t) => {
  const file = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'url-corpus.json')
  const corpus = JSON.parse(readFileSync(file, 'utf8')) as {
    allowedHttps: string[]
    dns: Record<string, string[]>
    cases: [string, string][]
  }
  const rules: HostRules = { https: new Set(corpus.allowedHttps), insecure: new Set() }
  for (const [url, expected] of corpus.cases) {
    const c = checkFetchUrl(url, rules)
    let verdict = c.ok ? 'allowed' : `refused:${c.reason}`
    if (c.ok) {
      const answer = corpus.dns[c.url.hostname] ?? [c.url.hostname]
      const why = answer.map(addressRefusal).find((r) => r !== undefined)
      if (why !== undefined) verdict = `address:${why}`
    }
    t.equal(verdict, expected, url.slice(0, 80))
  }
})
