/**
 * The URL half of the outbound fetch policy (the address half is ip-address.ts, applied at connect
 * time by sinks/media-fetch.ts). Pure: which URL a download may request, which hosts a tenant's
 * downloads may reach, and which of them may receive a bearer token.
 *
 * Hosts are compared as `host:port` after the WHATWG URL parser has normalised them (so decimal,
 * octal and hex IPv4 forms, percent-encoding and case all become one canonical host) and after a
 * trailing dot is removed; the normalised URL is what is requested, so no second parser can read
 * the string differently.
 */

export const refusalReasons = [
  'bad_url',
  'userinfo',
  'scheme_not_allowed',
  'host_not_allowed',
  'address_not_public',
  'too_many_redirects',
  'media_type_not_allowed',
  'media_type_mismatch',
] as const
export type RefusalReason = (typeof refusalReasons)[number]

export interface HostRules {
  /** `host:port` a download may reach over https (443 written out). */
  readonly https: Pick<ReadonlySet<string>, 'has'>
  /**
   * `host:port` exempt from the https rule and from the address check: only the local fakes of the
   * sandbox and the tests (FETCH_INSECURE_ORIGINS). Empty in production.
   */
  readonly insecure: Pick<ReadonlySet<string>, 'has'>
}

/** Which URLs may carry the tenant's bearer token: these origins, and only under this path. */
export interface BearerRule {
  readonly hosts: ReadonlySet<string>
  readonly pathPrefix: string
}

export type UrlCheck =
  { ok: true; url: URL; hostKey: string; insecure: boolean } | { ok: false; reason: RefusalReason; detail: string }

const MAX_URL_LENGTH = 4096
export const MAX_REDIRECTS = 3

/** `host:port` of a parsed URL, lower case, without a trailing dot, IPv6 in brackets. */
export function hostKey(url: URL): string {
  const port = url.port !== '' ? url.port : url.protocol === 'https:' ? '443' : '80'
  return `${url.hostname.replace(/\.+$/, '')}:${port}`
}

export function checkFetchUrl(raw: string | URL, rules: HostRules): UrlCheck {
  const text = typeof raw === 'string' ? raw : raw.href
  if (text.length > MAX_URL_LENGTH) return refuse('bad_url', `URL longer than ${MAX_URL_LENGTH} characters`)
  let url: URL
  try {
    url = new URL(text)
  } catch {
    return refuse('bad_url', 'not a URL')
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    return refuse('scheme_not_allowed', `scheme ${url.protocol.slice(0, 20)} is not allowed`)
  }
  if (url.username !== '' || url.password !== '') return refuse('userinfo', 'credentials in the URL are not allowed')
  url.hostname = url.hostname.replace(/\.+$/, '')
  url.hash = ''
  const key = hostKey(url)
  if (rules.insecure.has(key)) return { ok: true, url, hostKey: key, insecure: true }
  if (url.protocol !== 'https:') return refuse('scheme_not_allowed', 'only https is allowed')
  if (!rules.https.has(key)) return refuse('host_not_allowed', `host ${key.slice(0, 300)} is not allowed`)
  return { ok: true, url, hostKey: key, insecure: false }
}

export function mayCarryBearer(url: URL, rule: BearerRule | undefined): boolean {
  return rule !== undefined && rule.hosts.has(hostKey(url)) && url.pathname.startsWith(rule.pathPrefix)
}

function refuse(reason: RefusalReason, detail: string): UrlCheck {
  return { ok: false, reason, detail }
}

/**
 * One entry of a host list from configuration: `host` (https on 443) or `host:port`, or for the
 * insecure list `host:port` with the port required. Returns the normalised `host:port`.
 */
export function normaliseHostEntry(entry: string, requirePort: boolean): string | undefined {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^\s:/@[\]]+)(?::(\d{1,5}))?$/.exec(entry.trim())
  if (m === null || (requirePort && m[2] === undefined)) return undefined
  let url: URL
  try {
    url = new URL(`https://${m[1] ?? ''}:${m[2] ?? '443'}/`)
  } catch {
    return undefined
  }
  return hostKey(url)
}

/** Origin (`scheme://host:port`) → `host:port`, for configured API URLs. */
export function keyOfUrl(u: string): string {
  const url = new URL(u)
  url.hostname = url.hostname.replace(/\.+$/, '')
  return hostKey(url)
}

export interface DownloadHostsConfig {
  /** FETCH_ALLOWED_HOSTS, normalised: reachable by every tenant's downloads, never given a token. */
  readonly extraHosts: readonly string[]
  /** FETCH_INSECURE_ORIGINS, normalised. */
  readonly insecureOrigins: readonly string[]
}

/**
 * A tenant's Genesys attachment downloads: the API and download hosts of its region (the
 * download host `api-downloads.<region>` is observed, UNCONFIRMED), the GENESYS_API_URL override
 * when set, and the operator's extra hosts. The token may go only to the region's (or the
 * override's) API and download hosts, under /api/v2/downloads/.
 */
export function genesysDownloadPolicy(
  region: string,
  apiUrlOverride: string | undefined,
  cfg: DownloadHostsConfig,
): { rules: HostRules; bearer: BearerRule } {
  const own = [`api.${region}:443`, `api-downloads.${region}:443`]
  if (apiUrlOverride !== undefined) own.push(keyOfUrl(apiUrlOverride))
  return {
    rules: { https: new Set([...own, ...cfg.extraHosts]), insecure: new Set(cfg.insecureOrigins) },
    bearer: { hosts: new Set(own), pathPrefix: '/api/v2/downloads/' },
  }
}

/**
 * Meta media downloads: Meta's media hosts (META_MEDIA_HOSTS; `lookaside.fbsbx.com` is what
 * Graph's media URLs name, observed, UNCONFIRMED as the only one) and the Graph host. The
 * WhatsApp token goes only to those.
 */
export function metaDownloadPolicy(
  mediaHosts: readonly string[],
  graphUrl: string,
  cfg: DownloadHostsConfig,
): { rules: HostRules; bearer: BearerRule } {
  const own = [...mediaHosts, keyOfUrl(graphUrl)]
  return {
    rules: { https: new Set([...own, ...cfg.extraHosts]), insecure: new Set(cfg.insecureOrigins) },
    bearer: { hosts: new Set(own), pathPrefix: '/' },
  }
}
