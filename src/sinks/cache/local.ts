/**
 * A small in-process TTL map in front of Redis: at thousands of messages per second a Redis round trip
 * per lookup costs more than the lookup is worth, and tenants and mappings change rarely.
 * Bounded: the oldest entries go first when full (Map keeps insertion order).
 */
export interface LocalCache<V> {
  get: (key: string) => V | undefined
  /** `has` distinguishes a cached "absent" (undefined value) from no entry. */
  has: (key: string) => boolean
  set: (key: string, value: V, ttlMs?: number) => void
  delete: (key: string) => void
  deleteWhere: (pred: (key: string, value: V) => boolean) => void
  clear: () => void
  readonly size: number
}

export function createLocalCache<V>(opts: { ttlMs: number; maxEntries?: number }): LocalCache<V> {
  const max = opts.maxEntries ?? 10_000
  const map = new Map<string, { value: V; expires: number }>()
  const live = (key: string): { value: V; expires: number } | undefined => {
    const e = map.get(key)
    if (e === undefined) return undefined
    if (e.expires <= Date.now()) {
      map.delete(key)
      return undefined
    }
    return e
  }
  return {
    get: (key) => live(key)?.value,
    has: (key) => live(key) !== undefined,
    set(key, value, ttlMs = opts.ttlMs) {
      if (ttlMs <= 0) return
      map.delete(key)
      map.set(key, { value, expires: Date.now() + ttlMs })
      while (map.size > max) {
        const oldest = map.keys().next()
        if (oldest.done === true) break
        map.delete(oldest.value)
      }
    },
    delete: (key) => void map.delete(key),
    deleteWhere(pred) {
      for (const [key, e] of map) if (pred(key, e.value)) map.delete(key)
    },
    clear: () => map.clear(),
    get size() {
      return map.size
    },
  }
}
