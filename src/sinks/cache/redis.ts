import { Redis } from 'ioredis'

/**
 * Redis is a cache, not a store: a dead Redis must cost a fast miss, never a queue of waiting
 * commands or an exception on the hot path. So: no offline queue (commands fail at once while
 * disconnected), short timeouts, no per-command retries, and reconnects in the background forever.
 */
export function createRedis(url: string, tlsCa?: Buffer): Redis {
  const redis = new Redis(url, {
    // rediss:// turns TLS on by itself; a private CA (REDIS_TLS_CA_FILE) is added to the check.
    ...(tlsCa === undefined ? {} : { tls: { ca: [tlsCa], rejectUnauthorized: true } }),
    enableOfflineQueue: false,
    connectTimeout: 1_000,
    commandTimeout: 500,
    maxRetriesPerRequest: 0,
    retryStrategy: (times) => Math.min(100 * times, 2_000),
    // The first connect also happens in the background; callers need not await it.
    lazyConnect: false,
  })
  // Without a listener ioredis prints every connection error; the cache counts and logs them instead.
  redis.on('error', () => undefined)
  return redis
}

export interface CacheLogger {
  warn: (obj: object, msg: string) => void
}

export interface CacheOptions {
  /** Prepended to every key and channel, e.g. "gwb:" (tests use a unique one per run). */
  prefix: string
  logger?: CacheLogger
  /** Minimum gap between two logged Redis errors, ms (default one minute). */
  logEveryMs?: number
}

export interface CacheStats {
  hits: number
  misses: number
  errors: number
}

export interface Cache {
  getJson: <T>(key: string) => Promise<T | undefined>
  setJson: (key: string, value: unknown, ttlSeconds: number) => Promise<void>
  del: (...keys: string[]) => Promise<void>
  mget: <T>(keys: string[]) => Promise<(T | undefined)[]>
  publish: (channel: string, message: string) => Promise<void>
  /** Subscribes on a separate connection (a subscribed connection cannot run commands). */
  subscribe: (channel: string, handler: (message: string) => void) => Promise<void>
  stats: () => CacheStats
  close: () => Promise<void>
}

export function createCache(redis: Redis, opts: CacheOptions): Cache {
  const stats: CacheStats = { hits: 0, misses: 0, errors: 0 }
  const logEveryMs = opts.logEveryMs ?? 60_000
  let lastLog = 0
  let suppressed = 0
  let subscriber: Redis | undefined
  const handlers = new Map<string, ((message: string) => void)[]>()
  const k = (key: string): string => opts.prefix + key

  // Every failure is a miss: counted, logged at most once per interval, never thrown.
  const failed = (op: string, err: unknown): void => {
    stats.errors++
    const now = Date.now()
    if (now - lastLog >= logEveryMs) {
      opts.logger?.warn(
        { op, err: err instanceof Error ? err.message : String(err), suppressed },
        'redis unavailable; serving from postgres',
      )
      lastLog = now
      suppressed = 0
    } else suppressed++
  }

  const parse = <T>(text: string | null): T | undefined => {
    if (text === null) {
      stats.misses++
      return undefined
    }
    try {
      const v = JSON.parse(text) as T
      stats.hits++
      return v
    } catch {
      stats.misses++
      return undefined
    }
  }

  return {
    async getJson<T>(key: string) {
      try {
        return parse<T>(await redis.get(k(key)))
      } catch (err) {
        failed('get', err)
        stats.misses++
        return undefined
      }
    },
    async setJson(key, value, ttlSeconds) {
      if (!(ttlSeconds > 0)) return
      try {
        await redis.set(k(key), JSON.stringify(value), 'EX', Math.ceil(ttlSeconds))
      } catch (err) {
        failed('set', err)
      }
    },
    async del(...keys) {
      if (keys.length === 0) return
      try {
        await redis.del(...keys.map(k))
      } catch (err) {
        failed('del', err)
      }
    },
    async mget<T>(keys: string[]) {
      if (keys.length === 0) return []
      try {
        const values = await redis.mget(...keys.map(k))
        return values.map((v) => parse<T>(v))
      } catch (err) {
        failed('mget', err)
        stats.misses += keys.length
        return keys.map(() => undefined)
      }
    },
    async publish(channel, message) {
      try {
        await redis.publish(k(channel), message)
      } catch (err) {
        failed('publish', err)
      }
    },
    async subscribe(channel, handler) {
      if (subscriber === undefined) {
        // The duplicate keeps the offline queue: its SUBSCRIBE is replayed on every reconnect.
        const sub = redis.duplicate({ enableOfflineQueue: true, maxRetriesPerRequest: null, commandTimeout: undefined })
        sub.on('error', () => undefined)
        sub.on('message', (ch: string, message: string) => {
          for (const h of handlers.get(ch) ?? []) h(message)
        })
        subscriber = sub
      }
      const full = k(channel)
      handlers.set(full, [...(handlers.get(full) ?? []), handler])
      // Not awaited: with Redis down it completes once Redis is back, and must not block the caller.
      subscriber.subscribe(full).catch((err: unknown) => failed('subscribe', err))
    },
    stats: () => ({ ...stats }),
    async close() {
      subscriber?.disconnect()
      subscriber = undefined
    },
  }
}
