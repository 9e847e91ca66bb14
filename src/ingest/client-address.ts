import { BlockList, isIP } from 'node:net'

/**
 * The address a request really came from. Behind a load balancer the TCP peer is the balancer:
 * when the peer is one of `TRUSTED_PROXIES`, X-Forwarded-For is read right to left (each proxy
 * appends the address it saw), skipping trusted hops; the first address not trusted is the client.
 * Everything left of it was written by the client itself and is never believed. A malformed entry
 * ends the walk at the last address a trusted hop vouched for.
 */
export interface TrustedProxies {
  /** True when `address` (IPv4, IPv6 or IPv4-mapped IPv6) lies in one of the trusted ranges. */
  trusts: (address: string) => boolean
  /** The client address for a request from `peer` carrying this X-Forwarded-For header, if any. */
  clientAddress: (peer: string, forwardedFor: string | undefined) => string
}

/** `::ffff:10.0.0.1` is 10.0.0.1: BlockList keeps the families apart, so compare in one. */
export function plainAddress(address: string): string {
  const m = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address)
  return m?.[1] ?? address
}

/**
 * Parses a comma list of CIDR ranges or single addresses (`10.0.0.0/8, 2001:db8::/32, 192.0.2.7`).
 * Returns the problems instead of throwing, so configuration can report them with the rest.
 */
export function parseTrustedProxies(list: readonly string[]): { proxies: TrustedProxies; problems: string[] } {
  const block = new BlockList()
  const problems: string[] = []
  for (const item of list) {
    const [net = '', bits, ...rest] = item.split('/')
    const family = isIP(net)
    const prefix = bits === undefined ? (family === 6 ? 128 : 32) : Number(bits)
    const max = family === 6 ? 128 : 32
    const badBits = bits !== undefined && !/^\d{1,3}$/.test(bits)
    if (family === 0 || rest.length > 0 || badBits || !(prefix >= 0 && prefix <= max)) {
      problems.push(`TRUSTED_PROXIES: "${item}" is not an address or a CIDR range`)
      continue
    }
    block.addSubnet(net, prefix, family === 6 ? 'ipv6' : 'ipv4')
  }
  const trusts = (address: string): boolean => {
    const a = plainAddress(address)
    const family = isIP(a)
    return family !== 0 && block.check(a, family === 6 ? 'ipv6' : 'ipv4')
  }
  const clientAddress = (peer: string, forwardedFor: string | undefined): string => {
    let client = plainAddress(peer)
    if (forwardedFor === undefined || !trusts(client)) return client
    const hops = forwardedFor.split(',')
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = plainAddress((hops[i] ?? '').trim())
      if (isIP(hop) === 0) break
      client = hop
      if (!trusts(hop)) break
    }
    return client
  }
  return { proxies: { trusts, clientAddress }, problems }
}
