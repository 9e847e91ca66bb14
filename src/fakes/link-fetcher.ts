import { Agent, request } from 'undici'

/**
 * Downloads a URL the way a platform does when handed a link (Meta for `link` media, Genesys for
 * inbound attachment `url`s): a plain GET with no credentials of ours. Follows a few redirects
 * because presigned storage URLs sometimes redirect.
 */

export interface FetchedLink {
  status: number
  body?: Buffer
  contentType?: string
  error?: string
}

const MAX_REDIRECTS = 3

export class LinkFetcher {
  private readonly agent = new Agent({ connections: 16, pipelining: 1, headersTimeout: 30_000, bodyTimeout: 30_000 })

  constructor(private readonly maxBytes: number) {}

  async fetch(url: string): Promise<FetchedLink> {
    try {
      let target = url
      for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
        const res = await request(target, { method: 'GET', dispatcher: this.agent })
        const location = res.headers.location
        if (res.statusCode >= 300 && res.statusCode < 400 && typeof location === 'string') {
          await res.body.dump()
          target = new URL(location, target).toString()
          continue
        }
        const chunks: Buffer[] = []
        let size = 0
        for await (const chunk of res.body) {
          const b = chunk as Buffer
          size += b.length
          if (size > this.maxBytes) {
            res.body.on('error', () => undefined) // destroy emits an abort error nobody awaits
            res.body.destroy()
            return { status: res.statusCode, error: `larger than ${this.maxBytes} bytes` }
          }
          chunks.push(b)
        }
        const ct = res.headers['content-type']
        return {
          status: res.statusCode,
          body: Buffer.concat(chunks),
          ...(typeof ct === 'string' ? { contentType: ct } : {}),
        }
      }
      return { status: 0, error: 'too many redirects' }
    } catch (err) {
      return { status: 0, error: err instanceof Error ? err.message : String(err) }
    }
  }

  close(): Promise<void> {
    return this.agent.close()
  }
}
