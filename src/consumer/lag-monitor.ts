import type { Admin, Kafka } from 'kafkajs'
import { errorMessage } from '../errors.js'
import type { Logger } from '../log.js'
import type { Metrics } from '../metrics.js'

/** A consumer group of this process and the topic it reads. */
export interface LagTarget {
  groupId: string
  topic: string
}

export interface PartitionLag {
  partition: number
  lag: number
}

export interface LagMonitor {
  /** One round now (the timer also runs them); resolves once the gauges are set. */
  poll: () => Promise<void>
  stop: () => Promise<void>
}

/**
 * Lag of a group on a topic, per partition: records between the committed offset and the high
 * watermark. A partition the group never committed on counts from the low watermark (groups read
 * from the beginning), and so does one whose committed offset fell below it (retention).
 */
export function computeLag(
  committed: readonly { partition: number; offset: string }[],
  watermarks: readonly { partition: number; high: string; low: string }[],
): PartitionLag[] {
  const byPartition = new Map(committed.map((c) => [c.partition, Number(c.offset)]))
  return watermarks
    .map((w) => {
      const high = Number(w.high)
      const low = Number(w.low)
      const c = byPartition.get(w.partition)
      const from = c === undefined || c < 0 || c < low ? low : c
      return { partition: w.partition, lag: Math.max(0, high - from) }
    })
    .sort((a, b) => a.partition - b.partition)
}

/**
 * Sets gwb_consumer_lag_records{group,topic,partition} every `intervalMs` for each group this
 * process is a member of. Lag is a property of the group, not of the member: every process of a
 * group reports the same values (aggregate with max, not sum). Errors keep the last values and are
 * logged once until a round succeeds again.
 */
export function startLagMonitor(
  kafka: Kafka,
  targets: readonly LagTarget[],
  deps: { metrics: Metrics; log: Logger; intervalMs?: number },
): LagMonitor {
  const intervalMs = deps.intervalMs ?? 5000
  const log = deps.log.child({ component: 'lag-monitor' })
  let admin: Admin | undefined
  let connected: Promise<void> | undefined
  let failing = false
  let stopped = false
  let timer: NodeJS.Timeout | undefined
  let running: Promise<void> | undefined

  const round = async (): Promise<void> => {
    if (targets.length === 0) return
    try {
      admin ??= kafka.admin()
      connected ??= admin.connect()
      await connected
      const a = admin
      for (const t of targets) {
        // Stopping: no new request, each could reconnect a broker after stop() has disconnected.
        if (stopped) return
        const [groupOffsets, watermarks] = await Promise.all([
          a.fetchOffsets({ groupId: t.groupId, topics: [t.topic] }),
          a.fetchTopicOffsets(t.topic),
        ])
        const committed = groupOffsets.find((g) => g.topic === t.topic)?.partitions ?? []
        for (const { partition, lag } of computeLag(committed, watermarks)) {
          deps.metrics.consumerLag.set({ group: t.groupId, topic: t.topic, partition: String(partition) }, lag)
        }
      }
      if (failing) log.info('consumer lag readable again')
      failing = false
    } catch (err) {
      if (!failing) log.warn({ err: errorMessage(err) }, 'consumer lag unreadable; keeping the last values')
      failing = true
      connected = undefined
      const old = admin
      admin = undefined
      await old?.disconnect().catch(() => undefined)
    }
  }

  const poll = (): Promise<void> => {
    running ??= round().finally(() => {
      running = undefined
    })
    return running
  }

  const loop = (): void => {
    timer = setTimeout(() => {
      void poll().finally(() => {
        if (!stopped) loop()
      })
    }, intervalMs)
    timer.unref()
  }
  void poll().finally(() => {
    if (!stopped) loop()
  })

  return {
    poll,
    async stop() {
      stopped = true
      clearTimeout(timer)
      // A round stuck on an unreachable broker must not hold up shutdown.
      let wait: NodeJS.Timeout | undefined
      await Promise.race([running, new Promise((resolve) => (wait = setTimeout(resolve, 3000)))])
      clearTimeout(wait)
      const a = admin
      admin = undefined
      // A connect still under way would open its socket after a plain disconnect: let it finish first.
      await connected?.catch(() => undefined)
      await a?.disconnect().catch(() => undefined)
      // A request still under way when the admin disconnected is retried by kafkajs, which refreshes
      // metadata and so opens a new broker connection. Once it has given up, close that one too.
      if (running !== undefined) {
        await Promise.race([running, new Promise((resolve) => (wait = setTimeout(resolve, 15_000)))])
        clearTimeout(wait)
        await a?.disconnect().catch(() => undefined)
      }
    },
  }
}
