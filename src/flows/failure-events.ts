import type { RecordMeta } from '../consumer/record-runner.js'
import type { BridgeError } from '../errors.js'
import type { Logger } from '../log.js'
import type { Metrics } from '../metrics.js'
import type { BridgeErrorEvent, DeadLetter } from '../schemas/records.generated.js'

/** What every flow needs besides its own sinks: failure topics, the clock, logs and metrics. */
export interface CommonPorts {
  publishError: (e: BridgeErrorEvent) => Promise<void>
  publishDeadLetter: (d: DeadLetter) => Promise<void>
  now: () => number
  log: Logger
  metrics?: Metrics
}

/** The errors-topic record of a permanent failure. */
export function errorEvent(
  record: RecordMeta,
  error: BridgeError,
  ids: { tenantId?: string; messageId?: string; conversationId?: string | null },
  attempts: number,
  now: number,
): BridgeErrorEvent {
  const platformCode = error.details['metaCode'] ?? error.details['httpStatus']
  return {
    sourceTopic: record.topic,
    partition: record.partition,
    offset: record.offset,
    tenantId: ids.tenantId ?? null,
    messageId: ids.messageId ?? null,
    conversationId: ids.conversationId ?? null,
    code: error.code,
    message: error.message,
    platformCode: typeof platformCode === 'number' ? platformCode : null,
    attempts,
    occurredAtMs: now,
  }
}

/** The dead-letter record: the original bytes untouched, plus where they came from and why. */
export function deadLetterRecord(
  record: RecordMeta,
  error: BridgeError,
  tenantId: string | undefined,
  attempts: number,
  now: number,
): DeadLetter {
  return {
    sourceTopic: record.topic,
    partition: record.partition,
    offset: record.offset,
    key: record.key,
    value: record.value,
    code: error.code,
    message: error.message,
    attempts,
    tenantId: tenantId ?? null,
    deadLetteredAtMs: now,
  }
}
