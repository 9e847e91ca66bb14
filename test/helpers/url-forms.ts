/** Spellings of addresses that URL parsers accept, for the fetch-policy property tests. */

export const dotted = (n: number): string => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.')

/** Every textual form of an IPv4 address that the WHATWG parser accepts as that address. */
export function v4Forms(n: number): string[] {
  const [a, b, c, d] = [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]
  const hex = (x: number) => `0x${x.toString(16)}`
  const oct = (x: number) => `0${x.toString(8)}`
  return [
    dotted(n),
    String(n),
    hex(n),
    `0${n.toString(8)}`,
    [a, b, c, d].map(hex).join('.'),
    [a, b, c, d].map(oct).join('.'),
    `${a}.${(b << 16) | (c << 8) | d}`,
    `${a}.${b}.${(c << 8) | d}`,
    `${hex(a)}.${oct(b)}.${c}.${d}`,
    `${dotted(n)}.`,
    [...dotted(n)].map((ch) => `%${ch.charCodeAt(0).toString(16)}`).join(''),
    hex(n).toUpperCase().replace('0X', '0x'),
  ]
}
