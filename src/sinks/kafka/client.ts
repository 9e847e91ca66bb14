import { Kafka, logLevel as kafkaLogLevel, type LogEntry } from 'kafkajs'
import type { Logger } from '../../log.js'

/** kafkajs logs through pino, one level down: its INFO is chatty (every join, every commit). */
function logCreator(log: Logger) {
  return () =>
    ({ level, log: entry }: LogEntry) => {
      const { message, ...rest } = entry
      if (level === kafkaLogLevel.ERROR) log.error(rest, message)
      else if (level === kafkaLogLevel.WARN) log.warn(rest, message)
      else log.debug(rest, message)
    }
}

export function createKafka(opts: { brokers: readonly string[]; clientId: string; log: Logger }): Kafka {
  return new Kafka({
    clientId: opts.clientId,
    brokers: [...opts.brokers],
    logLevel: kafkaLogLevel.WARN,
    logCreator: logCreator(opts.log.child({ component: 'kafkajs' })),
    // Fail fast so ingest can answer 503 while the broker is away; callers retry.
    connectionTimeout: 3000,
    requestTimeout: 10_000,
    retry: { initialRetryTime: 100, maxRetryTime: 2000, retries: 5 },
  })
}
