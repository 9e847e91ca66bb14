/** What a route sees of a request, and how it answers: independent of the HTTP server under it. */
export interface IncomingRequest {
  readonly method: string
  readonly path: string
  /** Values of the route's `:name` path segments, percent-decoded. */
  readonly params: Readonly<Record<string, string>>
  readonly query: URLSearchParams
  /** Only the headers the route asked for, lower-case names. */
  readonly headers: Readonly<Record<string, string>>
  readonly body: Buffer
  /** performance.timeOrigin-based epoch ms at which the request was read. */
  readonly receivedAtMs: number
}

export interface Reply {
  status: number
  body: string
  contentType?: string
  /** Extra response headers (for example Retry-After). */
  headers?: Readonly<Record<string, string>>
  /**
   * Why a request was refused, for the operator only (a bounded metric label and logs): the client
   * may get one answer for several reasons so that it learns nothing from which one it was.
   */
  refusal?: string
}

export interface Route {
  method: 'GET' | 'POST'
  /** Literal segments and `:name` segments, e.g. `/webhook/meta/:phoneNumberId`. */
  path: string
  /** Bounded label for metrics. */
  name: string
  headers: readonly string[]
  handler: (req: IncomingRequest) => Promise<Reply> | Reply
}

export const json = (status: number, body: unknown): Reply => ({
  status,
  body: JSON.stringify(body),
  contentType: 'application/json',
})
export const jsonError = (status: number, error: string, reason: string): Reply => json(status, { error, reason })

/** A real outage only (store or Kafka down): the platforms retry a 503. */
export const unavailable = (reason: string): Reply => jsonError(503, 'unavailable', `${reason}; retry later`)
/** An id no tenant could have: malformed, never looked up. */
export const invalidId = (what: string, problem: string): Reply => ({
  ...jsonError(400, 'malformed_payload', `${what} ${problem}`),
  refusal: 'invalid_id',
})

export type RouteMatch =
  | { kind: 'route'; route: Route; params: Record<string, string> }
  | { kind: 'not_found' | 'method_not_allowed' | 'bad_path'; reply: Reply }

/** Path segment values longer than this are refused before any route sees them. */
const maxSegmentLength = 256

function matchPath(pattern: string, path: string): Record<string, string> | undefined | 'bad' {
  const want = pattern.split('/')
  const got = path.split('/')
  if (want.length !== got.length) return undefined
  const params: Record<string, string> = {}
  for (let i = 0; i < want.length; i++) {
    const w = want[i] as string
    const g = got[i] as string
    if (!w.startsWith(':')) {
      if (w !== g) return undefined
      continue
    }
    if (g === '') return undefined
    if (g.length > maxSegmentLength) return 'bad'
    try {
      params[w.slice(1)] = decodeURIComponent(g)
    } catch {
      return 'bad'
    }
  }
  return params
}

/** The route for a path and method, or the 404 / 405 / 400 answer (405 names the allowed methods). */
export function matchRoute(routes: readonly Route[], path: string, method: string): RouteMatch {
  const allowed: string[] = []
  for (const route of routes) {
    const params = matchPath(route.path, path)
    if (params === undefined) continue
    if (params === 'bad') {
      return { kind: 'bad_path', reply: jsonError(400, 'bad_path', 'a path segment is not valid') }
    }
    if (route.method === method) return { kind: 'route', route, params }
    allowed.push(route.method)
  }
  if (allowed.length === 0) {
    return { kind: 'not_found', reply: jsonError(404, 'not_found', `no route ${path.slice(0, 200)}`) }
  }
  const allow = [...new Set(allowed)].join(', ')
  return {
    kind: 'method_not_allowed',
    reply: {
      ...jsonError(405, 'method_not_allowed', `use ${allow} on ${path.slice(0, 200)}`),
      headers: { Allow: allow },
    },
  }
}
