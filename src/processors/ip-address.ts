import { isIPv4, isIPv6 } from 'node:net'

/**
 * Which resolved addresses a download may connect to. Pure: the fetch policy calls it with every
 * address a host name resolves to (and with IP literals), at connect time.
 *
 * IPv4: everything is public except the special-purpose ranges below. IPv6: only global unicast
 * (2000::/3) minus its special ranges is public; addresses that embed an IPv4 address (mapped,
 * compatible, NAT64, 6to4) are judged by the IPv4 address they lead to.
 */

/** [first octets as a 32-bit number, prefix length, name] */
const V4_REFUSED: readonly (readonly [number, number, string])[] = [
  [v4(0, 0, 0, 0), 8, 'this-network'],
  [v4(10, 0, 0, 0), 8, 'private'],
  [v4(100, 64, 0, 0), 10, 'cgnat'],
  [v4(127, 0, 0, 0), 8, 'loopback'],
  [v4(169, 254, 0, 0), 16, 'link-local'],
  [v4(172, 16, 0, 0), 12, 'private'],
  [v4(192, 0, 0, 0), 24, 'ietf-protocol'],
  [v4(192, 0, 2, 0), 24, 'documentation'],
  [v4(192, 31, 196, 0), 24, 'as112'],
  [v4(192, 52, 193, 0), 24, 'amt'],
  [v4(192, 88, 99, 0), 24, '6to4-relay'],
  [v4(192, 168, 0, 0), 16, 'private'],
  [v4(192, 175, 48, 0), 24, 'as112'],
  [v4(198, 18, 0, 0), 15, 'benchmarking'],
  [v4(198, 51, 100, 0), 24, 'documentation'],
  [v4(203, 0, 113, 0), 24, 'documentation'],
  [v4(224, 0, 0, 0), 4, 'multicast'],
  [v4(240, 0, 0, 0), 4, 'reserved'],
]

function v4(a: number, b: number, c: number, d: number): number {
  return ((a << 24) | (b << 16) | (c << 8) | d) >>> 0
}

/** Why an address is not public (a short stable name), or undefined when it is public. */
export function addressRefusal(address: string): string | undefined {
  if (isIPv4(address)) return v4Refusal(parseV4(address))
  const bytes = parseV6(address)
  if (bytes === undefined) return 'not-an-address'
  return v6Refusal(bytes)
}

export function isPublicAddress(address: string): boolean {
  return addressRefusal(address) === undefined
}

function parseV4(s: string): number {
  const [a = 0, b = 0, c = 0, d = 0] = s.split('.').map(Number)
  return v4(a, b, c, d)
}

function v4Refusal(n: number): string | undefined {
  if (n === 0xffffffff) return 'broadcast'
  for (const [base, bits, name] of V4_REFUSED) {
    const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0
    if ((n & mask) >>> 0 === base) return name
  }
  return undefined
}

/** 16 bytes of an IPv6 address (dotted IPv4 tail allowed); undefined for anything else, zones included. */
export function parseV6(s: string): Uint8Array | undefined {
  let text = s.startsWith('[') && s.endsWith(']') ? s.slice(1, -1) : s
  if (!isIPv6(text) || text.includes('%')) return undefined
  if (text.includes('.')) {
    // ::ffff:1.2.3.4 → ::ffff:102:304
    const at = text.lastIndexOf(':') + 1
    const n = parseV4(text.slice(at))
    text = `${text.slice(0, at)}${(n >>> 16).toString(16)}:${(n & 0xffff).toString(16)}`
  }
  const groups = expandGroups(text)
  if (groups === undefined) return undefined
  const out = new Uint8Array(16)
  groups.forEach((g, i) => {
    out[i * 2] = g >>> 8
    out[i * 2 + 1] = g & 0xff
  })
  return out
}

function expandGroups(text: string): number[] | undefined {
  const parse = (part: string): number[] => (part === '' ? [] : part.split(':').map((h) => parseInt(h, 16)))
  const dbl = text.indexOf('::')
  if (dbl === -1) {
    const g = parse(text)
    return g.length === 8 ? g : undefined
  }
  const left = parse(text.slice(0, dbl))
  const right = parse(text.slice(dbl + 2))
  const fill = 8 - left.length - right.length
  if (fill < 0) return undefined
  return [...left, ...new Array<number>(fill).fill(0), ...right]
}

/** Whether the first `bits` bits of `b` equal those of `prefix`. */
function prefixIs(b: Uint8Array, prefix: readonly number[], bits: number): boolean {
  for (let i = 0; i < bits; i++) {
    const byte = i >> 3
    const bit = 7 - (i & 7)
    if ((((b[byte] ?? 0) >> bit) & 1) !== (((prefix[byte] ?? 0) >> bit) & 1)) return false
  }
  return true
}

const v4At = (b: Uint8Array, at: number): number => v4(b[at] ?? 0, b[at + 1] ?? 0, b[at + 2] ?? 0, b[at + 3] ?? 0)

/** [prefix bytes, prefix length, name]; judged in order, the embeddings first. */
const V6_REFUSED: readonly (readonly [readonly number[], number, string])[] = [
  [[0x00, 0x64, 0xff, 0x9b, 0x00, 0x01], 48, 'nat64-local'],
  [[0x01, 0x00], 64, 'discard'],
  [[0x20, 0x01, 0x00, 0x00], 23, 'ietf-protocol'],
  [[0x20, 0x01, 0x0d, 0xb8], 32, 'documentation'],
  [[0x3f, 0xff], 20, 'documentation'],
  [[0xfc], 7, 'unique-local'],
  [[0xfe, 0x80], 10, 'link-local'],
  [[0xfe, 0xc0], 10, 'site-local'],
  [[0xff], 8, 'multicast'],
]

function v6Refusal(b: Uint8Array): string | undefined {
  const zeros = (from: number, to: number) => b.subarray(from, to).every((x) => x === 0)
  if (zeros(0, 16)) return 'unspecified'
  if (zeros(0, 15) && b[15] === 1) return 'loopback'
  // ::ffff:a.b.c.d (mapped), ::a.b.c.d (compatible), 64:ff9b::a.b.c.d (NAT64), 2002:AABB:CCDD:: (6to4).
  const embedded = (v: number, kind: string) => {
    const why = v4Refusal(v)
    return why === undefined ? undefined : `${kind}:${why}`
  }
  if (zeros(0, 10) && b[10] === 0xff && b[11] === 0xff) return embedded(v4At(b, 12), 'ipv4-mapped')
  if (zeros(0, 12)) return embedded(v4At(b, 12), 'ipv4-compatible')
  if (prefixIs(b, [0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0], 96)) return embedded(v4At(b, 12), 'nat64')
  if (b[0] === 0x20 && b[1] === 0x02) return embedded(v4At(b, 2), '6to4')
  for (const [prefix, bits, name] of V6_REFUSED) if (prefixIs(b, prefix, bits)) return name
  // Outside 2000::/3 nothing is assigned for public unicast.
  if (((b[0] ?? 0) & 0xe0) !== 0x20) return 'not-global-unicast'
  return undefined
}
